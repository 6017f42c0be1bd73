//! The workloads' inputs: the python script, the Makefile and the generated C project.

use std::fmt::Write as _;

/// The python workload; argv: base dir, files per thread, computation size.
pub(super) const PY_SCRIPT: &str = r#"import hashlib, os, sys, threading

THREADS = 4
base, FILES, COMPUTE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
FSYNC_EVERY = 100


def worker(k, results):
    d = os.path.join(base, "t%d" % k)
    os.mkdir(d)
    h = hashlib.sha256()
    payload = bytes((k * 31 + i) % 251 for i in range(4096))
    acc = 0
    for i in range(FILES):
        tmp = os.path.join(d, "f%d.tmp" % i)
        with open(tmp, "wb") as f:
            f.write(payload)
            f.write(i.to_bytes(8, "little"))
            if i % FSYNC_EVERY == 0:
                f.flush()
                os.fsync(f.fileno())
        st = os.stat(tmp)
        final = os.path.join(d, "g%d.dat" % i)
        os.rename(tmp, final)
        with open(final, "rb") as f:
            data = f.read()
        assert len(data) == st.st_size
        h.update(data)
        acc += sum(x * x for x in range(COMPUTE + i % 50))
        if i % 16 == 0:
            acc += len(os.listdir(d))
        if i % 4 == 3:
            for j in range(i - 3, i + 1):
                os.unlink(os.path.join(d, "g%d.dat" % j))
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)
    results[k] = (h.hexdigest(), acc)


results = [None] * THREADS
threads = [threading.Thread(target=worker, args=(k, results)) for k in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert all(r is not None for r in results)
print(hashlib.sha256(repr(results).encode()).hexdigest()[:16])
"#;

/// The gcc workload's Makefile (`make -B` rebuilds everything each run).
pub(super) const MAKEFILE: &str = "SRCS := $(sort $(wildcard *.c))\n\
OBJS := $(SRCS:.c=.o)\n\
prog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\
%.o: %.c\n\t$(CC) -O2 -Wall -c -o $@ $<\n";

/// The generated C project: (file name, text), deterministic.
pub(super) fn c_project(files: usize, funcs: usize) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(files + 1);
    for f in 0..files {
        let mut s = String::from("#include <stdint.h>\n#include <string.h>\n\n");
        for g in 0..funcs {
            let _ = write!(
                s,
                "static uint64_t mix_{f}_{g}(uint64_t x, const uint8_t *p, size_t n) {{\n\
                 \x20   for (size_t i = 0; i < n; i++) {{ x ^= p[i] + (x << 6) + (x >> 2); x *= 0x100000001b3ULL + {g}; }}\n\
                 \x20   return x;\n}}\n\
                 uint64_t work_{f}_{g}(uint64_t seed) {{\n\
                 \x20   uint8_t buf[256]; uint64_t acc = seed + {f};\n\
                 \x20   for (int r = 0; r < 64; r++) {{\n\
                 \x20       for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(acc >> (i % 8) * 8) ^ (uint8_t)i;\n\
                 \x20       switch (r % 4) {{\n\
                 \x20       case 0: acc = mix_{f}_{g}(acc, buf, sizeof buf); break;\n\
                 \x20       case 1: {{ double d = (double)acc; for (int k = 0; k < 8; k++) d = d * 1.000001 + k; acc += (uint64_t)d; }} break;\n\
                 \x20       case 2: memmove(buf + 1, buf, sizeof buf - 1); acc += buf[r]; break;\n\
                 \x20       default: acc = (acc << 13) | (acc >> 51); break;\n\
                 \x20       }}\n    }}\n    return acc;\n}}\n\n"
            );
        }
        out.push((format!("f{f:02}.c"), s));
    }
    let mut main = String::from("#include <stdint.h>\n#include <stdio.h>\n\n");
    for f in 0..files {
        for g in 0..funcs {
            let _ = writeln!(main, "uint64_t work_{f}_{g}(uint64_t);");
        }
    }
    main.push_str("\nint main(void) {\n    uint64_t a = 1;\n");
    for f in 0..files {
        for g in 0..funcs {
            let _ = writeln!(main, "    a += work_{f}_{g}(a);");
        }
    }
    main.push_str("    printf(\"%llu\\n\", (unsigned long long)a);\n    return 0;\n}\n");
    out.push(("main.c".to_owned(), main));
    out
}
