//! Reading a package for verification, in one pass and without extracting
//! anything: every file is hashed; small ones are kept for parsing, videos
//! only hashed. From a directory or a tar stream (the decrypted archive).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{check_path, ExportError};

/// Files larger than this are hashed but not kept (only videos are).
const KEEP_AT_MOST: u64 = 16 << 20;

#[derive(Clone, Debug)]
pub struct FileSeen {
    pub sha256: [u8; 32],
    pub length: u64,
    /// The content, for files up to 16 MiB that are not videos.
    pub bytes: Option<Vec<u8>>,
}

/// Every file of a package as read.
#[derive(Clone, Debug, Default)]
pub struct Contents {
    pub files: BTreeMap<String, FileSeen>,
}

impl Contents {
    pub fn bytes(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).and_then(|f| f.bytes.as_deref())
    }

    fn add(
        &mut self,
        path: String,
        length: u64,
        content: &mut dyn Read,
    ) -> Result<(), ExportError> {
        check_path(&path)?;
        if self.files.contains_key(&path) {
            return Err(ExportError::Refused {
                path,
                reason: "appears twice".into(),
            });
        }
        // Videos and an Axis recording's objects are only hashed: nothing
        // parses them.
        let keep = length <= KEEP_AT_MOST
            && !path.ends_with(crate::item::VIDEO)
            && !path.contains(&format!("/{}/", crate::axis::OBJECTS));
        let mut kept = Vec::new();
        let mut hasher = Sha256::new();
        let mut seen = 0u64;
        // Sized to the file (at most 1 MiB): a package of many small files
        // does not allocate a megabyte for each.
        let mut buf = vec![0u8; length.clamp(1, 1 << 20) as usize];
        loop {
            let n = content.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
            seen += n as u64;
        }
        if seen != length {
            return Err(ExportError::Refused {
                path,
                reason: format!("{seen} bytes where {length} were announced"),
            });
        }
        self.files.insert(
            path,
            FileSeen {
                sha256: hasher.finalize().into(),
                length,
                bytes: keep.then_some(kept),
            },
        );
        Ok(())
    }

    /// A package as a directory tree. Links and special files are refused.
    pub fn from_dir(root: &Path) -> Result<Self, ExportError> {
        let mut contents = Self::default();
        let mut stack = vec![(root.to_owned(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let mut entries = std::fs::read_dir(&dir)?.collect::<Result<Vec<_>, _>>()?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = format!("{prefix}{name}");
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    stack.push((entry.path(), format!("{path}/")));
                } else if kind.is_file() {
                    let mut file = std::fs::File::open(entry.path())?;
                    let length = file.metadata()?.len();
                    contents.add(path, length, &mut file)?;
                } else {
                    return Err(ExportError::Refused {
                        path,
                        reason: "a link or special file".into(),
                    });
                }
            }
        }
        Ok(contents)
    }

    /// A package as a tar stream. Only regular files and directories; a
    /// link, a device or a truncated archive is refused.
    pub fn from_tar(reader: impl Read) -> Result<Self, ExportError> {
        let mut contents = Self::default();
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = String::from_utf8(entry.path_bytes().into_owned()).map_err(|_| {
                ExportError::Refused {
                    path: "(tar entry)".into(),
                    reason: "a path that is not UTF-8".into(),
                }
            })?;
            match entry.header().entry_type() {
                tar::EntryType::Directory => continue,
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                _ => {
                    return Err(ExportError::Refused {
                        path,
                        reason: "a link or special file".into(),
                    })
                }
            }
            let length = entry.header().size()?;
            contents.add(path, length, &mut entry)?;
        }
        Ok(contents)
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/export_tar.rs`): bytes as the
/// decrypted archive of a package: read and verified, or refused — never
/// a panic, and never a file kept outside the package's own paths.
#[doc(hidden)]
pub fn fuzz_tar(data: &[u8]) {
    if let Ok(contents) = Contents::from_tar(data) {
        for path in contents.files.keys() {
            assert!(crate::check_path(path).is_ok(), "{path}");
        }
        let _ = crate::verify::verify(&contents, &crate::verify::Expected::default());
    }
}
