/**
 * A socket lives as long as its token (contract §5): at `exp` it receives `auth:expired` and is
 * disconnected, unless `auth:refresh` brought a newer token for the same user first. Expiry runs on
 * the server's clock, so tests move time instead of waiting for it.
 */
import { parsePayload } from '../chat/chat-payloads.js';
import type { Clock } from '../time/clock.js';
import { ChattyError } from '../errors.js';
import { keyRoom } from '../channels/names.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import { runAt } from '../time/timers.js';
import type { Handler } from './acks.js';
import type { ExpiryReason } from './protocol.js';
import type { ChattySocket } from './types.js';

const EXPIRED: ExpiryReason = 'token_expired';

/**
 * (Re)arms the timer that ends the socket when its token expires. A token already expired ends the
 * socket before this returns: callers check `socket.connected` afterwards.
 */
export function armExpiry(socket: ChattySocket, clock: Clock): void {
  socket.data.expiry?.cancel();
  const exp = socket.data.principal.exp;
  if (exp === undefined) return;
  socket.data.expiry = runAt(
    exp * 1000,
    () => {
      socket.emit('auth:expired', { reason: EXPIRED });
      socket.disconnect(true);
    },
    clock,
  );
}

/** `auth:refresh {token}`: a valid token for the same user, expiring no earlier, extends the socket's life. */
export function refreshHandler(keys: SigningKeys, clock: Clock): Handler<'auth:refresh'> {
  return async (socket, payload) => {
    const { token } = parsePayload('refresh', payload);
    const result = await keys.verifyFresh(token);
    if (!result.ok) throw new ChattyError(result.code);
    const current = socket.data.principal;
    const next = result.principal;
    if (next.sub !== current.sub) throw new ChattyError('token_invalid', 'The new token is for another user');
    if (current.exp !== undefined && next.exp !== undefined && next.exp < current.exp) {
      throw new ChattyError('token_invalid', 'The new token expires before the current one');
    }
    if (next.keyId !== current.keyId) {
      // the key's room decides which retirement ends this socket: the new key's, not the old one's
      socket.leave(keyRoom(current.keyId));
      socket.join(keyRoom(next.keyId));
    }
    socket.data.principal = next;
    armExpiry(socket, clock);
    return { exp: next.exp ?? null };
  };
}
