/**
 * The rules for a username and password (contract §3), in one place for registration and for the
 * bootstrap admin of the configuration. A module of its own so that config.ts can use them without
 * loading bcrypt. Messages name no field: each caller says which one it checked.
 */
import { z } from 'zod';

export const usernameSchema = z.string().regex(/^[A-Za-z0-9_.-]{3,64}$/, 'must be 3–64 of A-Z a-z 0-9 _ . -');

// bcrypt reads at most 72 bytes: a longer password would be accepted but silently truncated
export const passwordSchema = z
  .string()
  .refine((p) => Buffer.byteLength(p) >= 8, 'must be at least 8 bytes')
  .refine((p) => Buffer.byteLength(p) <= 72, 'must be at most 72 bytes');
