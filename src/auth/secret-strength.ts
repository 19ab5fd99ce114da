/**
 * What makes a string too weak to sign tokens with, for `JWT_SECRET` and for rotations. Chatty
 * cannot measure how a secret was made, so it refuses the shapes that are certainly not random:
 * too short, padded with whitespace, or drawn from a handful of characters (`aaaa…`, `abab…`,
 * 32 spaces). A random hex or base64 secret of 32 characters or more always passes.
 */

/** The shortest accepted secret, in characters that are not whitespace. */
export const MIN_SECRET_CHARACTERS = 32;
// 32 random hex characters use 16 distinct ones with near certainty; 8 leaves room for any alphabet
const MIN_DISTINCT_CHARACTERS = 8;

/** Why `secret` is too weak, as a message naming no field, or undefined when it is acceptable. */
export function secretWeakness(secret: string): string | undefined {
  if (secret.trim() !== secret) return 'must not begin or end with whitespace';
  const characters = [...secret].filter((character) => !/\s/u.test(character));
  if (characters.length < MIN_SECRET_CHARACTERS) return `must be at least ${MIN_SECRET_CHARACTERS} characters, not counting whitespace`;
  if (new Set(characters).size < MIN_DISTINCT_CHARACTERS) return `must use at least ${MIN_DISTINCT_CHARACTERS} different characters: a random secret, such as the output of openssl rand -hex 32`;
  return undefined;
}
