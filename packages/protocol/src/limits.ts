/** Default size limits shared by server and client. */

/** Largest accepted WebSocket frame (16 MiB), as the `--max-message-bytes` default. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

/** Longest accepted room name, in UTF-8 bytes. */
export const DEFAULT_MAX_ROOM_NAME_BYTES = 1024
