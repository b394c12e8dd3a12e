//! The few C library calls the client makes, declared by hand (no crates), plus the memory
//! allocator and panic handler a `no_std` binary must provide.
//!
//! Why `no_std`: Rust's `std` carries a backtrace symbolizer (gimli, addr2line, miniz) that
//! stable Rust cannot drop, and a static glibc link of it weighs ~1.25 MB, over the 1 MiB
//! budget. Against libc directly the static binary is ~0.7 MB with glibc (most of it glibc's
//! own start-up code) and tens of KB with musl. The declarations below are the same on every
//! 64-bit Linux libc (glibc, musl) and on x86_64 and aarch64.

use core::ffi::{c_char, c_int, c_long, c_void};

pub type SizeT = usize;
pub type SSizeT = isize;

#[repr(C)]
pub struct PollFd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}

#[repr(C)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: c_long,
}

#[repr(C)]
pub struct SockaddrUn {
    pub sun_family: u16,
    pub sun_path: [u8; 108],
}

pub const O_RDONLY: c_int = 0;
pub const O_CLOEXEC: c_int = 0o2_000_000;
pub const O_NONBLOCK: c_int = 0o4000;
pub const AF_UNIX: c_int = 1;
pub const SOCK_STREAM: c_int = 1;
pub const SOL_SOCKET: c_int = 1;
pub const SO_ERROR: c_int = 4;
pub const MSG_NOSIGNAL: c_int = 0x4000;
pub const POLLIN: i16 = 0x1;
pub const POLLOUT: i16 = 0x4;
pub const POLLERR: i16 = 0x8;
pub const POLLHUP: i16 = 0x10;
pub const CLOCK_MONOTONIC: c_int = 1;
pub const SIGPIPE: c_int = 13;
pub const SIG_IGN: usize = 1;

pub const EINTR: c_int = 4;
pub const EAGAIN: c_int = 11;
pub const EINPROGRESS: c_int = 115;

#[link(name = "c")]
extern "C" {
    pub fn read(fd: c_int, buf: *mut c_void, count: SizeT) -> SSizeT;
    pub fn write(fd: c_int, buf: *const c_void, count: SizeT) -> SSizeT;
    pub fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    pub fn close(fd: c_int) -> c_int;
    pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    pub fn connect(fd: c_int, addr: *const SockaddrUn, len: u32) -> c_int;
    pub fn getsockopt(fd: c_int, level: c_int, name: c_int, value: *mut c_void, len: *mut u32) -> c_int;
    pub fn send(fd: c_int, buf: *const c_void, len: SizeT, flags: c_int) -> SSizeT;
    pub fn poll(fds: *mut PollFd, n: u64, timeout_ms: c_int) -> c_int;
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

/// malloc's guarantee on 64-bit Linux (glibc and musl alike).
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
