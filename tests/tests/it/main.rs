//! End-to-end tests: real processes on loopback.

mod reupload;
mod storage;
