//! The secrets the daemon keeps: random ones, and the token signing secret read from (or
//! written to) the data directory with owner-only permissions.

use std::path::Path;

use rand::distributions::Alphanumeric;
use rand::Rng;

/// The wall clock in unix seconds, the unit of a token's `exp`.
pub fn unix_now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

pub fn random_secret(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The shortest token secret accepted from a file, as from `auth.jwt_secret`.
pub(super) const MIN_SECRET_BYTES: usize = 32;

/// Reads a secret file, or creates it readable by the owner only. A file too short to be a
/// secret (an empty one would let anyone sign tokens) is refused, naming it.
pub fn read_or_create_secret(
    path: &Path,
    make: impl FnOnce() -> String,
) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) if secret.trim().len() >= MIN_SECRET_BYTES => Ok(secret.trim().to_owned()),
        Ok(secret) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} holds {} bytes, not a secret of at least {MIN_SECRET_BYTES}: remove it to \
                 have a new one generated (access tokens issued with the old one stop working)",
                path.display(),
                secret.trim().len()
            ),
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secret = make();
            write_private(path, &secret)?;
            Ok(secret)
        }
        Err(error) => Err(error),
    }
}

/// Writes a file with mode 0600, whole or not at all: written beside it, synced, renamed over
/// it, and the rename synced, so a crash never leaves it empty or cut short.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".part");
    let partial = std::path::PathBuf::from(partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&partial)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
