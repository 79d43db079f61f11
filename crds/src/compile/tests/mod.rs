//! Compiler tests over whole scopes.
