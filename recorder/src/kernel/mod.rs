//! The kernel seen from user space: the eBPF program's loader, pins, slots and links
//! ([`tracer`]), the BTF reader, cgroup v2, and the argument specs the program reads.

pub mod args;
pub mod btf;
pub mod cgroup;
pub mod filter;
pub mod tracer;
