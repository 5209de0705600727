//! Integration tests of the primitives against independent implementations.

mod fuzz_seeds;
mod ipfs;
