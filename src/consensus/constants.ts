/** Limits and domain-separation prefixes for consensus messages. */

/** Most replicas a job may ask for. */
export const MAX_REPLICAS = 64
/** Most votes a receipt may carry (replicas plus re-dispatches). */
export const MAX_RECEIPT_VOTES = 256
/** Largest receipt text verifyReceipt will parse (characters). */
export const MAX_RECEIPT_CHARS = 96 * 1024 * 1024
/** Longest numeric class string. */
export const MAX_NUMERIC_CLASS_LENGTH = 128
/** Longest peer id string (base58btc; Ed25519 ids are 52 characters, RSA ones longer). */
export const MAX_PEER_ID_LENGTH = 128
/** Largest public key (libp2p protobuf) or signature accepted, bytes (RSA-4096 fits). */
export const MAX_KEY_BYTES = 1024
/** Nonce: lowercase hex, 8 to 64 bytes. */
export const MIN_NONCE_HEX = 16
export const MAX_NONCE_HEX = 128
/**
 * How far past `now` a receipt's timestamps may lie before verifyReceipt's
 * `time` check fails (peers' clocks disagree).
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

/** Prefixes make a signature for one message kind useless as another. */
export const VOTE_DOMAIN = 'crosscheck/vote/1\n'
/** Receipt v1: outputs embedded as base64 in the signed text. */
export const RECEIPT_DOMAIN = 'crosscheck/receipt/1\n'
/** Receipt v2: the signed text commits to output hashes; the bytes travel apart. */
export const RECEIPT_DOMAIN_V2 = 'crosscheck/receipt/2\n'
/** Receipt versions this code reads (it writes the last). */
export const RECEIPT_VERSIONS = [1, 2] as const
/** Receipt `type` field. */
export const RECEIPT_TYPE = 'crosscheck/receipt'
/** `type` of a receipt outputs file (the bytes a v2 receipt commits to by hash). */
export const RECEIPT_OUTPUTS_TYPE = 'crosscheck/receipt-outputs'

/** Settlement and retraction records (settlement.ts). */
export const SETTLEMENT_DOMAIN = 'crosscheck/settlement/1\n'
export const SETTLEMENT_TYPE = 'crosscheck/settlement'
/** Largest record text accepted (characters); records travel on gossip. */
export const MAX_RECORD_CHARS = 4096
/** Longest reason a record may give. */
export const MAX_REASON_CHARS = 512
