//! The few C library calls the client makes, declared by hand (no crates), plus the memory
//! allocator and panic handler a `no_std` binary must provide.
//!
//! Why `no_std`: Rust's `std` carries a backtrace symbolizer (gimli, addr2line, miniz) that
//! stable Rust cannot drop, and a static glibc link of it weighs ~1.25 MB, over the 1 MiB
//! budget. Against libc directly the static binary is ~0.7 MB with glibc (most of it glibc's
//! own start-up code) and tens of KB with musl.
//!
//! Hand-declared constants and layouts are only right where they were checked, so the build
//! refuses any other target (below). Each value names the headers it comes from: the Linux
//! uapi headers (`/usr/include/linux`, `/usr/include/asm-generic`, `asm/` per architecture),
//! glibc's (`/usr/include/<triplet>/bits`, `sys/`) and musl's (`arch/<arch>/bits`,
//! `arch/generic/bits`, `include/`). On x86_64, aarch64 and s390x every value here is the
//! asm-generic one: their `asm/errno.h`, `asm/fcntl.h`, `asm/poll.h` are asm-generic (s390x
//! through the generated wrappers, aarch64's `asm/fcntl.h` only overrides O_DIRECTORY,
//! O_NOFOLLOW, O_DIRECT and O_LARGEFILE), and x86_64's and s390x's own `asm/socket.h` /
//! `asm/signal.h` copies carry the same numbers for what is used here. The architectures
//! that do differ (mips, sparc, alpha, parisc: errno, SOCK_STREAM, SOL_SOCKET, O_NONBLOCK;
//! powerpc: SO_* options) are the reason for the guard. `cargo test` checks every value and
//! layout against the C headers of the machine it runs on (tests below); the layouts are also
//! asserted at compile time.

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "s390x")))]
compile_error!(
    "sys.rs declares libc constants and struct layouts by hand and has checked them only for \
     x86_64, aarch64 and s390x Linux (the architectures KubeVirt ships); check every value \
     against the target's kernel and libc headers before adding an architecture here"
);
#[cfg(not(target_os = "linux"))]
compile_error!("sys.rs declares Linux libc constants by hand; the client only runs under libvirt on Linux");

use core::ffi::{c_char, c_int, c_long, c_void};

pub type SizeT = usize;
pub type SSizeT = isize;
/// `socklen_t`: glibc `bits/types.h` (`__U32_TYPE __socklen_t`), musl `alltypes.h.in`.
pub type SockLen = u32;
/// `nfds_t`: glibc `sys/poll.h` and musl `include/poll.h`, `unsigned long`, 64 bits on LP64.
pub type NFds = u64;

/// `struct pollfd`: glibc `sys/poll.h`, musl `include/poll.h` (int, short, short).
#[repr(C)]
pub struct PollFd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}

/// `struct timespec` on LP64: glibc `bits/types/struct_timespec.h` (`__time_t`,
/// `__syscall_slong_t`), musl `alltypes.h.in`; no padding on 64-bit, big-endian s390x included.
#[repr(C)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: c_long,
}

/// `struct sockaddr_un`: `linux/un.h` (`__kernel_sa_family_t sun_family; char
/// sun_path[UNIX_PATH_MAX = 108]`), glibc `sys/un.h` + `bits/sockaddr.h`
/// (`sa_family_t` = unsigned short), musl `include/sys/un.h`.
#[repr(C)]
pub struct SockaddrUn {
    pub sun_family: u16,
    pub sun_path: [u8; 108],
}

// Layouts, checked at compile time for every target that gets past the guard above.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<c_int>() == 4 && size_of::<c_long>() == 8 && size_of::<usize>() == 8);
    assert!(size_of::<PollFd>() == 8 && offset_of!(PollFd, events) == 4 && offset_of!(PollFd, revents) == 6);
    assert!(size_of::<Timespec>() == 16 && offset_of!(Timespec, tv_nsec) == 8);
    assert!(size_of::<SockaddrUn>() == 110 && offset_of!(SockaddrUn, sun_path) == 2);
};

// open(2) flags: asm-generic/fcntl.h (x86_64 and s390x asm/fcntl.h include it; aarch64's
// overrides other flags only); glibc bits/fcntl-linux.h; musl arch/generic/bits/fcntl.h and
// arch/aarch64/bits/fcntl.h (same values).
pub const O_RDONLY: c_int = 0; // 00000000
pub const O_NONBLOCK: c_int = 0o4000; // 00004000
pub const O_CLOEXEC: c_int = 0o2_000_000; // 02000000

// Sockets: AF_UNIX = PF_LOCAL 1 (linux/socket.h family list; glibc bits/socket.h; musl
// include/sys/socket.h); SOCK_STREAM 1 (glibc bits/socket_type.h; musl include/sys/socket.h;
// only mips has 2); SOCK_CLOEXEC/SOCK_NONBLOCK are O_CLOEXEC/O_NONBLOCK by definition
// (linux/net.h, glibc bits/socket_type.h), which is why `connect` passes the O_ flags.
pub const AF_UNIX: c_int = 1;
pub const SOCK_STREAM: c_int = 1;
// SOL_SOCKET 1 and SO_ERROR 4: asm-generic/socket.h (x86_64 and aarch64 asm/socket.h include
// it; s390x's own asm/socket.h, "derived from asm-i386", has the same two); musl
// include/sys/socket.h and arch/s390x/bits/socket.h.
pub const SOL_SOCKET: c_int = 1;
pub const SO_ERROR: c_int = 4;
// MSG_NOSIGNAL: include/linux/socket.h (kernel-internal, same on every architecture), glibc
// bits/socket.h, musl include/sys/socket.h.
pub const MSG_NOSIGNAL: c_int = 0x4000;
// poll(2) events: asm-generic/poll.h (asm/poll.h includes it on all three); glibc bits/poll.h;
// musl include/poll.h.
pub const POLLIN: i16 = 0x1;
pub const POLLOUT: i16 = 0x4;
pub const POLLERR: i16 = 0x8;
pub const POLLHUP: i16 = 0x10;
// linux/time.h (CLOCK_MONOTONIC 1), glibc bits/time.h, musl include/time.h.
pub const CLOCK_MONOTONIC: c_int = 1;
// SIGPIPE 13: x86_64 and s390x asm/signal.h, asm-generic/signal.h (aarch64); glibc
// bits/signum-generic.h; musl arch/*/bits/signal.h. SIG_IGN ((__sighandler_t)1):
// asm-generic/signal-defs.h, glibc bits/signum-generic.h, musl include/signal.h.
pub const SIGPIPE: c_int = 13;
pub const SIG_IGN: usize = 1;

// errno values: asm-generic/errno-base.h (1-34) and asm-generic/errno.h (35+), which
// asm/errno.h includes on all three; glibc takes them from there (bits/errno.h), musl has its
// own copy in arch/generic/bits/errno.h (used by all three).
pub const ENOENT: c_int = 2;
pub const EINTR: c_int = 4;
pub const EAGAIN: c_int = 11;
pub const ECONNREFUSED: c_int = 111;
pub const EINPROGRESS: c_int = 115;

#[link(name = "c")]
extern "C" {
    pub fn read(fd: c_int, buf: *mut c_void, count: SizeT) -> SSizeT;
    pub fn write(fd: c_int, buf: *const c_void, count: SizeT) -> SSizeT;
    pub fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    pub fn close(fd: c_int) -> c_int;
    pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    pub fn connect(fd: c_int, addr: *const SockaddrUn, len: SockLen) -> c_int;
    pub fn getsockopt(fd: c_int, level: c_int, name: c_int, value: *mut c_void, len: *mut SockLen) -> c_int;
    pub fn send(fd: c_int, buf: *const c_void, len: SizeT, flags: c_int) -> SSizeT;
    pub fn poll(fds: *mut PollFd, n: NFds, timeout_ms: c_int) -> c_int;
    pub fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    pub fn getenv(name: *const c_char) -> *const c_char;
    pub fn strerror(errnum: c_int) -> *const c_char;
    pub fn strlen(s: *const c_char) -> SizeT;
    pub fn signal(sig: c_int, handler: usize) -> usize;
    pub fn __errno_location() -> *mut c_int;
    pub fn malloc(size: SizeT) -> *mut c_void;
    pub fn realloc(p: *mut c_void, size: SizeT) -> *mut c_void;
    pub fn free(p: *mut c_void);
    pub fn posix_memalign(out: *mut *mut c_void, align: SizeT, size: SizeT) -> c_int;
    pub fn abort() -> !;
}

// Static glibc's stdio and pthread objects carry C++-style cleanup paths that reference
// `_Unwind_Resume`; std links libgcc_eh for that, so a no_std static build must too.
#[cfg(all(target_env = "gnu", target_feature = "crt-static"))]
#[link(name = "gcc_eh", kind = "static")]
extern "C" {}

pub fn errno() -> c_int {
    // SAFETY: libc returns a valid thread-local pointer.
    unsafe { *__errno_location() }
}

/// The bytes of a NUL-terminated C string (empty for NULL).
///
/// # Safety
/// `s` must be NULL or point to a NUL-terminated string that outlives the result.
pub unsafe fn c_bytes<'a>(s: *const c_char) -> &'a [u8] {
    if s.is_null() {
        return &[];
    }
    core::slice::from_raw_parts(s.cast::<u8>(), strlen(s))
}

/// malloc's alignment on 64-bit Linux: glibc `MALLOC_ALIGNMENT` (malloc/malloc-alignment.h,
/// 2 * sizeof(size_t) = 16, also on s390x whose long double is only 8-aligned), musl mallocng
/// `UNIT` 16.
const MALLOC_ALIGN: usize = 16;

pub struct LibcAlloc;

// SAFETY: forwards to the C allocator, which honours the alignments checked here.
unsafe impl core::alloc::GlobalAlloc for LibcAlloc {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            malloc(layout.size()).cast()
        } else {
            let mut p: *mut c_void = core::ptr::null_mut();
            if posix_memalign(&mut p, layout.align(), layout.size()) != 0 {
                return core::ptr::null_mut();
            }
            p.cast()
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, _layout: core::alloc::Layout) {
        free(p.cast());
    }

    unsafe fn realloc(&self, p: *mut u8, layout: core::alloc::Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            return realloc(p.cast(), new_size).cast();
        }
        let new = self.alloc(core::alloc::Layout::from_size_align_unchecked(new_size, layout.align()));
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(p, new, layout.size().min(new_size));
            self.dealloc(p, layout);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    //! Every hand-declared value and layout against the C headers of the machine running
    //! the tests: a C program prints each expression, compiled with `cc` (which cargo already
    //! needs as the linker on Linux).
    use super::*;
    use core::mem::{offset_of, size_of};

    fn checked() -> Vec<(&'static str, i64)> {
        vec![
            ("O_RDONLY", i64::from(O_RDONLY)),
            ("O_NONBLOCK", i64::from(O_NONBLOCK)),
            ("O_CLOEXEC", i64::from(O_CLOEXEC)),
            ("SOCK_NONBLOCK", i64::from(O_NONBLOCK)),
            ("SOCK_CLOEXEC", i64::from(O_CLOEXEC)),
            ("AF_UNIX", i64::from(AF_UNIX)),
            ("SOCK_STREAM", i64::from(SOCK_STREAM)),
            ("SOL_SOCKET", i64::from(SOL_SOCKET)),
            ("SO_ERROR", i64::from(SO_ERROR)),
            ("MSG_NOSIGNAL", i64::from(MSG_NOSIGNAL)),
            ("POLLIN", i64::from(POLLIN)),
            ("POLLOUT", i64::from(POLLOUT)),
            ("POLLERR", i64::from(POLLERR)),
            ("POLLHUP", i64::from(POLLHUP)),
            ("CLOCK_MONOTONIC", i64::from(CLOCK_MONOTONIC)),
            ("SIGPIPE", i64::from(SIGPIPE)),
            ("(long)SIG_IGN", SIG_IGN as i64),
            ("ENOENT", i64::from(ENOENT)),
            ("EINTR", i64::from(EINTR)),
            ("EAGAIN", i64::from(EAGAIN)),
            ("ECONNREFUSED", i64::from(ECONNREFUSED)),
            ("EINPROGRESS", i64::from(EINPROGRESS)),
            ("sizeof(socklen_t)", size_of::<SockLen>() as i64),
            ("sizeof(nfds_t)", size_of::<NFds>() as i64),
            ("sizeof(size_t)", size_of::<SizeT>() as i64),
            ("sizeof(long)", size_of::<c_long>() as i64),
            ("sizeof(struct pollfd)", size_of::<PollFd>() as i64),
            ("offsetof(struct pollfd, events)", offset_of!(PollFd, events) as i64),
            ("offsetof(struct pollfd, revents)", offset_of!(PollFd, revents) as i64),
            ("sizeof(struct timespec)", size_of::<Timespec>() as i64),
            ("offsetof(struct timespec, tv_nsec)", offset_of!(Timespec, tv_nsec) as i64),
            ("sizeof(struct sockaddr_un)", size_of::<SockaddrUn>() as i64),
            ("offsetof(struct sockaddr_un, sun_path)", offset_of!(SockaddrUn, sun_path) as i64),
            ("sizeof(((struct sockaddr_un *)0)->sun_family)", 2),
        ]
    }

    #[test]
    fn values_and_layouts_match_this_machines_c_headers() {
        let dir = std::env::temp_dir().join(format!("pmh-sys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = String::from(
            "#define _GNU_SOURCE\n#include <errno.h>\n#include <fcntl.h>\n#include <poll.h>\n#include <signal.h>\n\
             #include <stddef.h>\n#include <stdio.h>\n#include <sys/socket.h>\n#include <sys/un.h>\n#include <time.h>\n\
             int main(void) {\n",
        );
        for (expr, _) in checked() {
            c.push_str(&format!("  printf(\"%ld\\n\", (long)({expr}));\n"));
        }
        c.push_str("  return 0;\n}\n");
        std::fs::write(dir.join("values.c"), c).unwrap();
        let built = std::process::Command::new("cc")
            .arg("-o")
            .arg(dir.join("values"))
            .arg(dir.join("values.c"))
            .status()
            .expect("cc (cargo's linker on Linux) must be installed");
        let out = built.success().then(|| std::process::Command::new(dir.join("values")).output().unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        let out = out.expect("the C program must compile against this machine's headers");
        let got: Vec<i64> = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.parse().unwrap()).collect();
        let want = checked();
        assert_eq!(got.len(), want.len());
        for ((expr, ours), theirs) in want.into_iter().zip(got) {
            assert_eq!(ours, theirs, "{expr}: sys.rs has {ours}, the C headers say {theirs}");
        }
    }
}
