//! End-to-end tests: real processes on loopback.

mod audits;
mod bitswap;
mod directories;
mod gateway;
mod names;
mod reupload;
mod storage;
