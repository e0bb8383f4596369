import { MIN_SECRET_BYTES } from '../auth/room-token.js'
import type { CliFlag } from './cli-flags.js'

/**
 * The token secret never goes on the command line (where `ps` and shell history would
 * show it): a flag names the environment variable that holds it. `quire serve` and
 * `quire token` spell that flag the same; `--auth-secret-env`, serve's first name for
 * it, is still accepted by both.
 */
export function secretEnvFlag<S>(row: { readonly help: string; readonly default?: string; readonly set: (settings: S, name: string) => void }): CliFlag<S> {
  return { kind: 'text', name: 'secret-env', aliases: ['auth-secret-env'], placeholder: '<NAME>', ...row }
}

/** A document API key from the environment variable `name`, refused when unset or empty. */
export function readApiKeyFromEnv(name: string): string {
  const key = process.env[name] ?? ''
  if (key.trim() === '') throw new Error(`the environment variable ${name} (--api-key-env) is empty or unset: it must hold an API key (e.g. from: openssl rand -base64 32)`)
  return key
}

/** The secret from the environment variable `name`, refused when unset or too short. */
export function readSecretFromEnv(name: string): string {
  const secret = process.env[name] ?? ''
  if (secret === '') throw new Error(`the environment variable ${name} is empty or unset: it must hold the token secret (at least ${MIN_SECRET_BYTES} bytes, e.g. from: openssl rand -base64 48)`)
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new Error(`the secret in ${name} is ${Buffer.byteLength(secret)} bytes; it must be at least ${MIN_SECRET_BYTES} (e.g. from: openssl rand -base64 48)`)
  }
  return secret
}
