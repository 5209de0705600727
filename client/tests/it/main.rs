//! Tests that run the real `mosaic` binary.

mod cli;
