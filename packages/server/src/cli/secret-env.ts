import { MIN_SECRET_BYTES } from '../auth/room-token.js'

/** The secret from the environment variable `name`, refused when unset or too short. */
export function readSecretFromEnv(name: string): string {
  const secret = process.env[name] ?? ''
  if (secret === '') throw new Error(`the environment variable ${name} is empty or unset: it must hold the token secret (at least ${MIN_SECRET_BYTES} bytes, e.g. from: openssl rand -base64 48)`)
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new Error(`the secret in ${name} is ${Buffer.byteLength(secret)} bytes; it must be at least ${MIN_SECRET_BYTES} (e.g. from: openssl rand -base64 48)`)
  }
  return secret
}
