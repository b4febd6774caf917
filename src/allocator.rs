//! The binary's allocator: jemalloc, configured to give memory back once clients leave.

/// The daemon allocates many small, short-lived buffers per message (event payloads, SQL
/// parameters, socket frames) across threads; jemalloc's per-thread caches make that cheaper
/// than glibc's malloc, for a little more memory per idle connection (its size classes round
/// allocations up). Both are measured in `docs/performance.md` (`send` and `idle`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before its first allocation (this build prefixes jemalloc's
/// names, hence the symbol's; `_RJEM_MALLOC_CONF` in the environment still overrides them for
/// an experiment).
///
/// They make memory come back when clients leave. jemalloc keeps the pages that freed
/// allocations leave behind for reuse and gives them back to the kernel as they age past
/// `dirty_decay_ms`, but without background threads that clock only advances while the
/// threads that freed them go on allocating, and a daemon whose clients have left is quiet:
/// it kept what they had used for as long as it stayed quiet. With `background_thread:true`
/// jemalloc's own threads (at most one per CPU) purge on a timer whatever the daemon does;
/// `dirty_decay_ms:1000` gives pages back over a second after they were freed instead of ten;
/// `muzzy_decay_ms:0` (jemalloc's default, pinned here) gives them back with `MADV_DONTNEED`
/// at once rather than `MADV_FREE`, whose pages count in the resident set until the kernel
/// needs them. What the daemon keeps after its clients leave, with and without them, is in
/// `docs/performance.md` (`churn`, and "The byte budgets and the allocator").
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: Option<&'static std::ffi::c_char> =
    // SAFETY: a pointer to the first byte of a static string is a valid `&'static c_char`.
    Some(unsafe { &*c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};

    use super::MALLOC_CONF;

    /// Reads one of jemalloc's settings, whose type `T` its manual gives.
    fn setting<T: Default>(name: &CStr) -> T {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `value` is a `T` of `len` bytes, and nothing is written (no new value).
        let status = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(status, 0, "mallctl {name:?}");
        value
    }

    /// jemalloc takes a misspelt option for a warning on stderr and a symbol of the wrong name
    /// for no options at all: every option of `MALLOC_CONF` must be the one in force.
    #[test]
    fn jemalloc_runs_with_every_option_of_malloc_conf() {
        let conf = MALLOC_CONF.expect("options");
        // SAFETY: `MALLOC_CONF` points at a NUL-terminated static string.
        let conf = unsafe { CStr::from_ptr(conf) }.to_str().expect("ASCII");
        for option in conf.split(',') {
            let (key, value) = option.split_once(':').expect("key:value");
            let name = CString::new(format!("opt.{key}")).expect("no NUL");
            let in_force = match value {
                "true" | "false" => setting::<bool>(&name).to_string(),
                _ => setting::<isize>(&name).to_string(),
            };
            assert_eq!(in_force, value, "{key}");
        }
        // `opt.background_thread` says they were asked for; this, that they run.
        assert!(setting::<bool>(c"background_thread"));
    }
}
