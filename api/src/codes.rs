//! JSON-RPC error codes, Substrate's where it has one.

/// Parameters that do not parse: bad hex, bad SCALE, out of range.
pub const INVALID_PARAMS: i32 = -32602;
/// An unsafe method called where they are disabled.
pub const UNSAFE: i32 = -32601;
/// The extrinsic does not decode.
pub const BAD_FORMAT: i32 = 1001;
/// The runtime says the transaction is invalid.
pub const POOL_INVALID_TX: i32 = 1010;
/// The runtime cannot tell whether the transaction is valid.
pub const POOL_UNKNOWN_VALIDITY: i32 = 1011;
/// The transaction is already in the pool.
pub const POOL_ALREADY_IMPORTED: i32 = 1013;
/// The pool is full of more important transactions.
pub const POOL_TOO_LOW_PRIORITY: i32 = 1014;
/// The transaction provides no tags.
pub const POOL_NO_TAGS: i32 = 1018;
/// A key could not be stored (unsupported type, bad secret).
pub const KEYSTORE: i32 = 5002;
/// A chain query failed (unknown block).
pub const CHAIN: i32 = 3001;
/// A state query failed: unknown or pruned block, runtime error.
pub const STATE: i32 = 4003;
/// The database failed.
pub const INTERNAL: i32 = -32603;
