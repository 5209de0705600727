//! The Mosaic FRAME runtime: `construct_runtime` over the providers, market and
//! audit pallets plus balances, timestamp, transaction payment and the
//! authority sets, executed natively by `mosaic-node`.
//!
//! Status: placeholder; built under issue 3. The data-path bounds the runtime
//! will enforce already live in [`mosaic_primitives::erasure`].
