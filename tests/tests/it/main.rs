//! End-to-end tests: real processes on loopback.

mod audits;
mod reupload;
mod storage;
