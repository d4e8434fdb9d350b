//! The credential vault: workstation passwords encrypted at rest.
//!
//! Each password is sealed with XChaCha20-Poly1305 under a 32-byte key, with a fresh random
//! 192-bit nonce, and the record version and workstation id as associated data, so a sealed
//! password cannot be moved to another workstation's record. A sealed record is
//! `version (1) ‖ key id (8) ‖ nonce (24) ‖ ciphertext and tag`. The key id (the first 8 bytes of
//! a domain-separated SHA-256 of the key) lets a vault that holds several keys, during a key
//! rotation, pick the right one; it reveals nothing about the key.
//!
//! The key comes from a key file (created with mode 0600 on first use; a file that other users
//! can read is refused) or from the embedding application. Decrypted passwords only ever live in
//! [`SecretString`]; key bytes and decrypted buffers are zeroed when dropped.
//!
//! A key file appears whole or not at all: it is written to a private temporary file in the
//! same directory, flushed to disk, then hard-linked to its name (which fails if the name is
//! taken, so of two processes creating it, one wins and the other reads the winner's key).

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::model::WorkstationId;

/// The sealed-record format version written now.
const RECORD_VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
const AAD_LABEL: &[u8] = b"amt-manager credential";
const KEY_FILE_HEADER: &str = "amt-manager vault key v1";

/// What went wrong in the vault. Never carries key or password material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The sealed record is shorter than its header or has an unknown version.
    #[error("the stored credentials are damaged or in an unknown format")]
    Malformed,
    /// No key of this vault sealed the record.
    #[error("the stored credentials were sealed with another key (key id {key_id})")]
    UnknownKey {
        /// The record's key id, hex.
        key_id: String,
    },
    /// Decryption failed: the record was altered or belongs to another workstation.
    #[error("the stored credentials do not decrypt (altered, or moved from another workstation)")]
    Tampered,
    /// The decrypted password is not UTF-8.
    #[error("the stored password is not valid UTF-8")]
    NotUtf8,
    /// The key file could not be read, created or written.
    #[error("key file {path}: {source}")]
    KeyFileIo {
        /// The key file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is not in the expected format.
    #[error("key file {path} is not an amt-manager vault key")]
    KeyFileFormat {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is empty or stops short (written by something that was interrupted).
    #[error(
        "key file {path} is empty or incomplete; if no credentials were ever sealed with it, \
         remove it and a new key is made"
    )]
    KeyFileIncomplete {
        /// The key file.
        path: PathBuf,
    },
    /// A key rotation was asked for while an earlier one is unfinished.
    #[error(
        "an earlier key rotation is unfinished: the credentials of {} are still sealed with an \
         older key and cannot be re-encrypted; set or clear them, then rotate again",
        .workstations.join(", ")
    )]
    RotationUnfinished {
        /// The workstations whose records hold the rotation back.
        workstations: Vec<String>,
    },
    /// Another key rotation (in another process) has written its new key file.
    #[error("another key rotation is in progress ({path} exists)")]
    RotationInProgress {
        /// The new key file of the other rotation.
        path: PathBuf,
    },
    /// The key file can be read by other users.
    #[error("key file {path} is readable by other users (mode {mode:o}); run chmod 600 on it")]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The operating system's random source failed.
    #[error("the random source failed: {0}")]
    Random(String),
}

/// A password sealed by the vault, as stored in the inventory.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    /// Wraps stored bytes (checked when opened).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id of the key that sealed it, if the record is well-formed.
    pub fn key_id(&self) -> Option<KeyId> {
        let bytes = self.0.get(1..1 + KEY_ID_LEN)?;
        Some(KeyId(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

/// Identifies a vault key without revealing it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte vault key. Zeroed on drop; never printed.
#[derive(Clone)]
pub struct VaultKey {
    bytes: Zeroizing<[u8; 32]>,
    id: KeyId,
}

impl VaultKey {
    /// A key from bytes supplied by the embedding application.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let bytes = Zeroizing::new(bytes);
        let mut hash = Sha256::new();
        hash.update(b"amt-manager vault key id\0");
        hash.update(bytes.as_slice());
        let digest = hash.finalize();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self {
            bytes,
            id: KeyId(id),
        }
    }

    /// A new random key. Its bytes cannot be read back: an application that keeps its own key
    /// (rather than a key file) makes the bytes itself, keeps them, and uses [`from_bytes`].
    ///
    /// [`from_bytes`]: Self::from_bytes
    pub fn generate() -> Result<Self, VaultError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|e| VaultError::Random(e.to_string()))?;
        Ok(Self::from_bytes(*bytes))
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.bytes).into())
    }

    /// Reads a key file.
    pub fn read_file(path: &Path) -> Result<Self, VaultError> {
        check_permissions(path)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            VaultError::KeyFileIo {
                path: path.to_owned(),
                source,
            }
        })?);
        if is_truncated_key_file(&text) {
            return Err(VaultError::KeyFileIncomplete {
                path: path.to_owned(),
            });
        }
        let format = || VaultError::KeyFileFormat {
            path: path.to_owned(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(format());
        }
        let hex = lines.next().ok_or_else(format)?.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        if hex.len() != 64 {
            return Err(format());
        }
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(format)?, 16)
                .map_err(|_| format())?;
        }
        Ok(Self::from_bytes(*bytes))
    }

    /// Writes the key to a new file with mode 0600, atomically: the file appears complete or not
    /// at all. Fails with [`std::io::ErrorKind::AlreadyExists`] if the file exists.
    pub fn write_new_file(&self, path: &Path) -> Result<(), VaultError> {
        let io = |source| VaultError::KeyFileIo {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut text = Zeroizing::new(String::with_capacity(100));
        text.push_str(KEY_FILE_HEADER);
        text.push('\n');
        for byte in self.bytes.iter() {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        text.push('\n');
        let temp = temporary_path(path)?;
        let written = write_private(&temp, text.as_bytes())
            // The link is the atomic step: it gives the complete file its name, or fails if the
            // name is taken (where a rename would replace the other file).
            .and_then(|()| std::fs::hard_link(&temp, path));
        let _ = std::fs::remove_file(&temp);
        written.map_err(io)?;
        sync_dir(dir).map_err(io)
    }
}

/// Whether a key file's text is a beginning of a well-formed one (empty, or cut short).
fn is_truncated_key_file(text: &str) -> bool {
    let header = format!("{KEY_FILE_HEADER}\n");
    if text.len() <= header.len() {
        return header.starts_with(text);
    }
    text.strip_prefix(&header)
        .is_some_and(|hex| hex.len() < 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A fresh name beside `path` for writing it.
fn temporary_path(path: &Path) -> Result<PathBuf, VaultError> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| VaultError::Random(e.to_string()))?;
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.", std::process::id()));
    for byte in random {
        name.push(format!("{byte:02x}"));
    }
    name.push(".tmp");
    Ok(path.with_file_name(name))
}

/// Creates `path` (which must not exist) with mode 0600 and writes `bytes` to disk.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Flushes a directory's entries to disk, so that a new name in it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Moves the key file `from` over `to` (the last step of a key rotation), durably.
pub(crate) fn replace_key_file(from: &Path, to: &Path) -> Result<(), VaultError> {
    let io = |source| VaultError::KeyFileIo {
        path: to.to_owned(),
        source,
    };
    std::fs::rename(from, to).map_err(io)?;
    let dir = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_dir(dir).map_err(io)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path).map_err(|source| VaultError::KeyFileIo {
        path: path.to_owned(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), VaultError> {
    Ok(())
}

/// Seals and opens workstation passwords.
///
/// It holds the current key, which seals, and possibly older keys, which only open (while a key
/// rotation is being carried out).
#[derive(Debug, Clone)]
pub struct Vault {
    current: VaultKey,
    older: Vec<VaultKey>,
}

impl Vault {
    /// A vault with one key.
    pub fn new(key: VaultKey) -> Self {
        Self {
            current: key,
            older: Vec::new(),
        }
    }

    /// A vault whose key lives in `path`, created (mode 0600, random key) if it does not exist.
    pub fn open_key_file(path: &Path) -> Result<Self, VaultError> {
        Self::open_or_create(path, |key| key.write_new_file(path))
    }

    /// [`open_key_file`](Self::open_key_file), creating the file with `create`.
    fn open_or_create(
        path: &Path,
        create: impl FnOnce(&VaultKey) -> Result<(), VaultError>,
    ) -> Result<Self, VaultError> {
        match VaultKey::read_file(path) {
            Ok(key) => Ok(Self::new(key)),
            Err(VaultError::KeyFileIo { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                let key = VaultKey::generate()?;
                match create(&key) {
                    Ok(()) => Ok(Self::new(key)),
                    // Another process created it first: use theirs.
                    Err(VaultError::KeyFileIo { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        read_winners_key(path).map(Self::new)
                    }
                    Err(other) => Err(other),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// The key that seals.
    pub fn current_key(&self) -> &VaultKey {
        &self.current
    }

    /// This vault with `key` sealing from now on; the previous keys still open.
    #[must_use]
    pub fn with_new_key(&self, key: VaultKey) -> Self {
        let mut older = vec![self.current.clone()];
        older.extend(self.older.iter().cloned());
        Self {
            current: key,
            older,
        }
    }

    fn aad(version: u8, workstation: WorkstationId) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_LABEL.len() + 9);
        aad.extend_from_slice(AAD_LABEL);
        aad.push(version);
        aad.extend_from_slice(&workstation.0.to_be_bytes());
        aad
    }

    /// Seals `password` for `workstation` under the current key.
    pub fn seal(
        &self,
        workstation: WorkstationId,
        password: &SecretString,
    ) -> Result<SealedSecret, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| VaultError::Random(e.to_string()))?;
        let aad = Self::aad(RECORD_VERSION, workstation);
        let ciphertext = self
            .current
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: password.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            // Encryption fails only for messages beyond the cipher's length limit (256 GiB).
            .map_err(|_| VaultError::Malformed)?;
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(RECORD_VERSION);
        sealed.extend_from_slice(&self.current.id.0);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedSecret(sealed))
    }

    /// Opens a sealed password of `workstation`.
    pub fn open(
        &self,
        workstation: WorkstationId,
        sealed: &SealedSecret,
    ) -> Result<SecretString, VaultError> {
        let bytes = sealed.as_bytes();
        if bytes.len() < HEADER_LEN || bytes[0] != RECORD_VERSION {
            return Err(VaultError::Malformed);
        }
        let key_id = sealed.key_id().ok_or(VaultError::Malformed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|key| key.id == key_id)
            .ok_or_else(|| VaultError::UnknownKey {
                key_id: key_id.to_string(),
            })?;
        let nonce: [u8; NONCE_LEN] = bytes[1 + KEY_ID_LEN..HEADER_LEN]
            .try_into()
            .map_err(|_| VaultError::Malformed)?;
        let aad = Self::aad(bytes[0], workstation);
        let plaintext = Zeroizing::new(
            key.cipher()
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &bytes[HEADER_LEN..],
                        aad: &aad,
                    },
                )
                .map_err(|_| VaultError::Tampered)?,
        );
        let text = std::str::from_utf8(&plaintext).map_err(|_| VaultError::NotUtf8)?;
        Ok(SecretString::from(text))
    }

    /// Whether `sealed` was sealed by the current key.
    pub fn is_current(&self, sealed: &SealedSecret) -> bool {
        sealed.key_id() == Some(self.current.id)
    }

    /// Whether `sealed` names one of the older keys (it needs re-encrypting, or is damaged).
    pub fn is_older(&self, sealed: &SealedSecret) -> bool {
        sealed
            .key_id()
            .is_some_and(|id| id != self.current.id && self.older.iter().any(|k| k.id == id))
    }

    /// Whether the vault holds keys that only open (a key rotation is under way).
    pub fn has_older_keys(&self) -> bool {
        !self.older.is_empty()
    }
}

/// Reads a key file another process has just created. Files written by this module appear
/// complete; one written by something else (an older version wrote in place) may still be
/// growing, so an incomplete file is read again a few times before giving up.
fn read_winners_key(path: &Path) -> Result<VaultKey, VaultError> {
    const ATTEMPTS: u32 = 5;
    const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
    let mut attempt = 1;
    loop {
        match VaultKey::read_file(path) {
            Err(VaultError::KeyFileIncomplete { .. }) if attempt < ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(PAUSE);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(VaultKey::from_bytes([7; 32]))
    }

    #[test]
    fn sealed_passwords_open_for_their_workstation_only() {
        let vault = vault();
        let sealed = vault
            .seal(WorkstationId(1), &SecretString::from("P@ssw0rd"))
            .unwrap();
        assert_eq!(
            vault
                .open(WorkstationId(1), &sealed)
                .unwrap()
                .expose_secret(),
            "P@ssw0rd"
        );
        assert!(matches!(
            vault.open(WorkstationId(2), &sealed),
            Err(VaultError::Tampered)
        ));
        assert!(!sealed.as_bytes().windows(8).any(|w| w == b"P@ssw0rd"));
    }

    #[test]
    fn every_seal_uses_a_new_nonce() {
        let vault = vault();
        let password = SecretString::from("same");
        let a = vault.seal(WorkstationId(1), &password).unwrap();
        let b = vault.seal(WorkstationId(1), &password).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn altered_or_truncated_records_are_refused() {
        let vault = vault();
        let sealed = vault
            .seal(WorkstationId(1), &SecretString::from("pw"))
            .unwrap();
        let mut bytes = sealed.as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            vault.open(WorkstationId(1), &SealedSecret::from_bytes(bytes)),
            Err(VaultError::Tampered)
        ));
        assert!(matches!(
            vault.open(WorkstationId(1), &SealedSecret::from_bytes(vec![1, 2, 3])),
            Err(VaultError::Malformed)
        ));
        let mut other_version = sealed.as_bytes().to_vec();
        other_version[0] = 9;
        assert!(matches!(
            vault.open(WorkstationId(1), &SealedSecret::from_bytes(other_version)),
            Err(VaultError::Malformed)
        ));
    }

    #[test]
    fn a_rotated_vault_opens_old_records_and_seals_with_the_new_key() {
        let old = vault();
        let sealed = old
            .seal(WorkstationId(3), &SecretString::from("pw"))
            .unwrap();
        let rotated = old.with_new_key(VaultKey::from_bytes([9; 32]));
        assert!(!rotated.is_current(&sealed));
        assert_eq!(
            rotated
                .open(WorkstationId(3), &sealed)
                .unwrap()
                .expose_secret(),
            "pw"
        );
        let resealed = rotated
            .seal(WorkstationId(3), &SecretString::from("pw"))
            .unwrap();
        assert!(rotated.is_current(&resealed));
        let only_new = Vault::new(VaultKey::from_bytes([9; 32]));
        assert!(matches!(
            only_new.open(WorkstationId(3), &sealed),
            Err(VaultError::UnknownKey { .. })
        ));
    }

    #[test]
    fn key_files_are_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("vault.key");
        let created = Vault::open_key_file(&path).unwrap();
        let reopened = Vault::open_key_file(&path).unwrap();
        assert_eq!(created.current_key().id(), reopened.current_key().id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                Vault::open_key_file(&path),
                Err(VaultError::KeyFilePermissions { mode: 0o644, .. })
            ));
        }
    }

    #[test]
    fn a_garbled_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.key");
        VaultKey::from_bytes([1; 32]).write_new_file(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap().replace('0', "g");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            VaultKey::read_file(&path),
            Err(VaultError::KeyFileFormat { .. })
        ));
    }

    #[test]
    fn empty_or_cut_short_key_files_are_refused_as_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.key");
        VaultKey::from_bytes([0x5a; 32])
            .write_new_file(&path)
            .unwrap();
        let whole = std::fs::read_to_string(&path).unwrap();
        for cut in [0, 10, KEY_FILE_HEADER.len() + 1, whole.len() - 10] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            match Vault::open_key_file(&path) {
                Err(error @ VaultError::KeyFileIncomplete { .. }) => assert_eq!(
                    error.to_string(),
                    format!(
                        "key file {} is empty or incomplete; if no credentials were ever \
                         sealed with it, remove it and a new key is made",
                        path.display()
                    )
                ),
                other => panic!("{cut} bytes: {other:?}"),
            }
        }
        std::fs::write(&path, &whole).unwrap();
        assert!(Vault::open_key_file(&path).is_ok(), "the whole file opens");
    }

    #[test]
    fn a_key_file_is_never_overwritten_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.key");
        let first = VaultKey::from_bytes([1; 32]);
        first.write_new_file(&path).unwrap();
        match VaultKey::from_bytes([2; 32]).write_new_file(&path) {
            Err(VaultError::KeyFileIo { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(VaultKey::read_file(&path).unwrap().id(), first.id());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["vault.key"]);
    }

    #[test]
    fn the_loser_of_a_creation_race_uses_the_winners_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.key");
        let winner = VaultKey::from_bytes([3; 32]);
        // The winner's file appears between the loser's failed read and its own creation.
        let vault = Vault::open_or_create(&path, |key| {
            winner.write_new_file(&path)?;
            key.write_new_file(&path)
        })
        .unwrap();
        assert_eq!(vault.current_key().id(), winner.id());
    }

    #[test]
    fn processes_creating_one_key_file_at_once_agree_on_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.key");
        let start = std::sync::Barrier::new(8);
        let ids: Vec<KeyId> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        Vault::open_key_file(&path).unwrap().current_key().id()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn debug_output_shows_no_key_or_password() {
        let key = VaultKey::from_bytes([0xAB; 32]);
        let debug = format!("{key:?} {:?}", Vault::new(key.clone()));
        assert!(!debug.to_lowercase().contains("abab"), "{debug}");
        let sealed = Vault::new(key)
            .seal(WorkstationId(1), &SecretString::from("hunter2"))
            .unwrap();
        assert!(!format!("{sealed:?}").contains("hunter2"));
    }
}
