//! Writing files: atomically (never half-written), only below the directories the
//! hook's configuration names, and never writable by group or others.

pub mod atomic;
pub mod confined;
pub mod mode;
