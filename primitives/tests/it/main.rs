//! Integration tests of the primitives against independent implementations.

mod ipfs;
