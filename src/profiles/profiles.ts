/**
 * Profiles and channel labels (contract §11): names and avatars people see instead of ids, and
 * labels instead of channel names. A user never given a profile is named by their id.
 */
import type { ChannelName, UserId } from '../channels/names.js';
import type { ChannelLabel, LabelSource, ProfileChange, Store } from '../store/store.js';

/** A profile as clients see it: `name` defaults to the user id. */
export interface PublicProfile {
  name: string;
  avatar: string | null;
}

export class Profiles {
  private announce: (userId: UserId, profile: PublicProfile) => Promise<void> = async () => {};

  constructor(private readonly store: Store) {}

  /** What to do after a profile changed (the socket layer's `profile` event). */
  onChange(announce: (userId: UserId, profile: PublicProfile) => Promise<void>): void {
    this.announce = announce;
  }

  async get(userId: UserId): Promise<PublicProfile> {
    return (await this.many([userId]))[userId]!;
  }

  /** Each user's profile, by id (no prototype: "__proto__" is a valid user id). */
  async many(userIds: readonly UserId[]): Promise<Record<UserId, PublicProfile>> {
    const stored = await this.store.profilesOf(userIds);
    const profiles: Record<UserId, PublicProfile> = Object.create(null);
    for (const id of userIds) {
      const profile = stored.get(id);
      profiles[id] = { name: profile?.name ?? id, avatar: profile?.avatar ?? null };
    }
    return profiles;
  }

  /** Sets what `change` names and tells those who may see the user. */
  async set(userId: UserId, change: ProfileChange): Promise<PublicProfile> {
    const stored = await this.store.setProfile(userId, change);
    const profile = { name: stored.name ?? userId, avatar: stored.avatar };
    await this.announce(userId, profile);
    return profile;
  }

  /** Each channel's label, or null. */
  async labels(channels: readonly ChannelName[]): Promise<Record<ChannelName, string | null>> {
    const stored = await this.store.labelsOf(channels);
    const labels: Record<ChannelName, string | null> = Object.create(null);
    for (const channel of channels) labels[channel] = stored.get(channel) ?? null;
    return labels;
  }

  setLabels(labels: readonly ChannelLabel[], source: LabelSource): Promise<void> {
    return this.store.setLabels(labels, source);
  }
}
