//! End-to-end tests that start real multi-node Mosaic networks on loopback.
//!
//! Status: placeholder until the node exists (issues 4 and 5); the offline
//! data path is tested end to end through the `mosaic` binary in
//! `client/tests/`.
