/**
 * The live sockets as an operator sees them (the console's routes, issue 32): which sockets are
 * connected, how, since when and on which node, which to disconnect, and how many users are online
 * in given channels. Counted on every node: on many nodes each question goes to the other nodes as
 * a Socket.IO server-side event through the Redis adapter, and an answer missing after
 * `timeoutMs` (Redis unreachable, a node dying) makes the result `complete: false`, never a hang.
 */
import proxyaddr, { type TrustFunction } from 'proxy-addr';
import { isValidName, type ChannelName, type UserId } from '../channels/names.js';
import type { ChattyIo, ChattySocket } from './types.js';

export interface SocketInfo {
  id: string;
  userId: UserId;
  /** `websocket` or `polling`. */
  transport: string;
  /** The client's address (through TRUST_PROXY's proxies). */
  address: string;
  connectedAt: number;
  /** When its token expires (ms), or null for a token without `exp`. */
  tokenExpiresAt: number | null;
  node: string;
}

export interface SocketQuery {
  /** Only this user's sockets. */
  userId?: UserId;
  /** Only sockets with an id above this one. */
  after?: string;
  /** At most this many (per node: the caller merges and cuts). */
  limit: number;
}

/** What the nodes ask each other (Socket.IO's InterServerEvents). */
export interface LiveSocketEvents {
  'chatty:sockets': (query: SocketQuery, answer: (sockets: SocketInfo[]) => void) => void;
  'chatty:disconnect': (socketId: string, answer: (found: boolean) => void) => void;
  'chatty:online-in': (channels: ChannelName[], answer: (online: Record<ChannelName, UserId[]>) => void) => void;
}

/** How long a question waits for the other nodes. */
export const NODE_ANSWER_MS = 3000;

export class LiveSockets {
  constructor(
    private readonly io: ChattyIo,
    private readonly options: { nodeId: string; trust: TrustFunction; clustered: boolean; timeoutMs?: number },
  ) {
    // the other nodes' questions, answered from this node's sockets
    io.on('chatty:sockets', (query, answer) => answer(this.localSockets(query)));
    io.on('chatty:disconnect', (socketId, answer) => answer(this.disconnectLocal(socketId)));
    io.on('chatty:online-in', (channels, answer) => answer(Object.fromEntries(this.localOnlineIn(channels))));
  }

  /** Sockets by id, after `query.after`, at most `query.limit`, from every node. */
  async sockets(query: SocketQuery): Promise<{ sockets: SocketInfo[]; complete: boolean }> {
    const { answers, complete } = await this.ask('chatty:sockets', query);
    const all = [this.localSockets(query), ...answers].flat().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { sockets: all.slice(0, query.limit), complete };
  }

  /** Disconnects the socket wherever it is; false when no node has it. */
  async disconnect(socketId: string): Promise<{ found: boolean; complete: boolean }> {
    if (this.disconnectLocal(socketId)) return { found: true, complete: true };
    const { answers, complete } = await this.ask('chatty:disconnect', socketId);
    return { found: answers.some(Boolean), complete };
  }

  /** For each channel, how many distinct users have a socket in it, on every node. */
  async onlineIn(channels: readonly ChannelName[]): Promise<{ online: Map<ChannelName, number>; complete: boolean }> {
    const users = new Map<ChannelName, Set<UserId>>(channels.map((channel) => [channel, new Set<UserId>()]));
    const add = (found: Iterable<[ChannelName, UserId[]]>) => {
      for (const [channel, ids] of found) for (const id of ids) users.get(channel)?.add(id);
    };
    add(this.localOnlineIn(channels));
    const { answers, complete } = await this.ask('chatty:online-in', [...channels]);
    for (const answer of answers) add(Object.entries(answer));
    return { online: new Map([...users].map(([channel, ids]) => [channel, ids.size])), complete };
  }

  private localSockets({ userId, after, limit }: SocketQuery): SocketInfo[] {
    const found: SocketInfo[] = [];
    for (const socket of this.io.of('/').sockets.values()) {
      if (userId !== undefined && socket.data.principal.sub !== userId) continue;
      if (after !== undefined && socket.id <= after) continue;
      found.push(this.describe(socket));
    }
    return found.sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, limit);
  }

  private describe(socket: ChattySocket): SocketInfo {
    const { principal } = socket.data;
    return {
      id: socket.id,
      userId: principal.sub,
      transport: socket.conn.transport.name,
      address: proxyaddr(socket.request, this.options.trust),
      connectedAt: socket.handshake.issued,
      tokenExpiresAt: principal.exp === undefined ? null : principal.exp * 1000,
      node: this.options.nodeId,
    };
  }

  private disconnectLocal(socketId: string): boolean {
    const socket = this.io.of('/').sockets.get(socketId);
    socket?.disconnect(true);
    return socket !== undefined;
  }

  private localOnlineIn(channels: readonly ChannelName[]): [ChannelName, UserId[]][] {
    const { rooms, nsp } = this.io.of('/').adapter;
    return channels.filter(isValidName).map((channel) => {
      const ids = new Set<UserId>();
      for (const socketId of rooms.get(channel) ?? []) {
        const socket = nsp.sockets.get(socketId) as ChattySocket | undefined;
        if (socket) ids.add(socket.data.principal.sub);
      }
      return [channel, [...ids]];
    });
  }

  /** The other nodes' answers to a question; on a single node, none, at once. */
  private async ask<E extends keyof LiveSocketEvents>(event: E, question: Parameters<LiveSocketEvents[E]>[0]): Promise<{ answers: AnswerOf<E>[]; complete: boolean }> {
    if (!this.options.clustered) return { answers: [], complete: true };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.timeoutMs ?? NODE_ANSWER_MS)));
    try {
      const emit = this.io as unknown as { serverSideEmitWithAck(event: string, question: unknown): Promise<AnswerOf<E>[]> };
      const answers = await Promise.race([emit.serverSideEmitWithAck(event, question).catch(() => 'timeout' as const), timeout]);
      return answers === 'timeout' ? { answers: [], complete: false } : { answers, complete: true };
    } finally {
      clearTimeout(timer);
    }
  }
}

type AnswerOf<E extends keyof LiveSocketEvents> = Parameters<Parameters<LiveSocketEvents[E]>[1]>[0];
