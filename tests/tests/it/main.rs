//! End-to-end tests: real processes on loopback.

mod storage;
