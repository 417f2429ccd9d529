//! The connection file the Axis body-worn manager imports to reach Custos
//! (README "Connection API"), and the `System/` objects the system
//! controller reads: `Capabilities.json` and `Categories.json`, each served
//! with an `Etag` that is the MD5 of its bytes (the controller calls an
//! object with a wrong one "corrupt").

use md5::{Digest, Md5};
use serde::Serialize;

use crate::names::ClipType;
use crate::AxisError;

/// The largest connection file the manager takes.
pub const MAX_CONNECTION_FILE: usize = 64 * 1024;

/// What goes into a connection file. Credentials are shown once: the
/// server keeps only their hash.
#[derive(Debug, Clone)]
pub struct ConnectionFile {
    pub site_name: String,
    pub application_version: String,
    /// `https://host:port/auth/v1.0` of the Axis listener, up to ten.
    pub token_uris: Vec<String>,
    /// The server's certificates (DER), for the controller to pin.
    pub certificates: Vec<Vec<u8>>,
    pub user: String,
    pub key: String,
    pub clip_type: ClipType,
    /// Axis' own encryption: the RSA public key (PEM) and its id.
    pub encryption: Option<(String, String)>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Wire<'a> {
    connection_file_version: &'a str,
    site_name: &'a str,
    application_name: &'a str,
    application_version: &'a str,
    #[serde(rename = "ContentDestinationAsNTPServer")]
    content_destination_as_ntp_server: bool,
    #[serde(rename = "AuthenticationTokenURI")]
    authentication_token_uri: &'a [String],
    #[serde(rename = "HTTPSCertificate")]
    https_certificate: Vec<String>,
    #[serde(rename = "BlobAPIKey")]
    blob_api_key: &'a str,
    #[serde(rename = "BlobAPIUserName")]
    blob_api_user_name: &'a str,
    container_type: &'a str,
    full_store_and_read_support: bool,
    want_encryption: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key_id: Option<&'a str>,
}

fn at_most(what: &str, value: &str, max: usize) -> Result<(), AxisError> {
    if value.len() > max {
        return Err(AxisError::ConnectionFile(format!(
            "{what} is longer than {max} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(AxisError::ConnectionFile(format!(
            "{what} has a control character"
        )));
    }
    Ok(())
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl ConnectionFile {
    /// The file's JSON, checked against the spec's sizes.
    pub fn to_json(&self) -> Result<String, AxisError> {
        at_most("SiteName", &self.site_name, 64)?;
        at_most("ApplicationVersion", &self.application_version, 128)?;
        at_most("BlobAPIUserName", &self.user, 64)?;
        at_most("BlobAPIKey", &self.key, 64)?;
        if self.user.is_empty() || self.key.is_empty() {
            return Err(AxisError::ConnectionFile("credentials are missing".into()));
        }
        if self.token_uris.is_empty() || self.token_uris.len() > 10 {
            return Err(AxisError::ConnectionFile(
                "AuthenticationTokenURI takes one to ten URIs".into(),
            ));
        }
        for uri in &self.token_uris {
            at_most("AuthenticationTokenURI", uri, 512)?;
            if !uri.starts_with("https://") {
                return Err(AxisError::ConnectionFile(
                    "AuthenticationTokenURI must be https".into(),
                ));
            }
        }
        if self.certificates.len() > 10 {
            return Err(AxisError::ConnectionFile(
                "HTTPSCertificate takes at most ten certificates".into(),
            ));
        }
        let certificates: Vec<String> = self.certificates.iter().map(|c| base64(c)).collect();
        for c in &certificates {
            at_most("HTTPSCertificate", c, 16 * 1024)?;
        }
        let (public_key, public_key_id) = match &self.encryption {
            Some((pem, id)) => {
                at_most("PublicKeyId", id, 128)?;
                let encoded = base64(pem.as_bytes());
                at_most("PublicKey", &encoded, 2048)?;
                (Some(encoded), Some(id.as_str()))
            }
            None => (None, None),
        };
        let wire = Wire {
            connection_file_version: "1.0",
            site_name: &self.site_name,
            application_name: "Custos",
            application_version: &self.application_version,
            content_destination_as_ntp_server: false,
            authentication_token_uri: &self.token_uris,
            https_certificate: certificates,
            blob_api_key: &self.key,
            blob_api_user_name: &self.user,
            container_type: self.clip_type.extension(),
            full_store_and_read_support: false,
            want_encryption: self.encryption.is_some(),
            public_key,
            public_key_id,
        };
        let json = serde_json::to_string_pretty(&wire).expect("plain strings and bools");
        if json.len() > MAX_CONNECTION_FILE {
            return Err(AxisError::ConnectionFile(
                "larger than the 64 kB the manager takes".into(),
            ));
        }
        Ok(json)
    }
}

/// What Custos can store and read, as `System/Capabilities.json` says.
/// Once declared, a capability must stay: the system controller relies on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub categories: bool,
    pub system_id: bool,
    pub user_id_key: bool,
    pub bookmarks: bool,
    pub signed_video: bool,
    pub gnss_track: bool,
    pub rejected_content: bool,
}

impl Capabilities {
    /// The object's bytes and its `Etag`.
    pub fn object(&self) -> (Vec<u8>, String) {
        let body = serde_json::json!({
            "Read": {"ReadCategories": self.categories},
            "Store": {
                "StoreBookmarks": self.bookmarks,
                "StoreSignedVideo": self.signed_video,
                "StoreGNSSTrackRecording": self.gnss_track,
                "StoreRejectedContent": self.rejected_content,
            },
            "StoreAndRead": {
                "StoreReadSystemID": self.system_id,
                "StoreUserIDKey": self.user_id_key,
            },
        });
        with_etag(serde_json::to_vec_pretty(&body).expect("a JSON value"))
    }
}

/// A category the officer can give a recording on the camera or the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Category {
    pub name: String,
    pub id: String,
}

/// `System/Categories.json`'s bytes and `Etag`.
pub fn categories_object(categories: &[Category]) -> (Vec<u8>, String) {
    with_etag(serde_json::to_vec_pretty(categories).expect("plain strings"))
}

/// The MD5 of `body`, in hex, as Swift's `Etag`.
pub fn etag(body: &[u8]) -> String {
    Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn with_etag(body: Vec<u8>) -> (Vec<u8>, String) {
    let tag = etag(&body);
    (body, tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> ConnectionFile {
        ConnectionFile {
            site_name: "Gemeente Utrecht".into(),
            application_version: "0.1.0".into(),
            token_uris: vec!["https://custos.example:8443/auth/v1.0".into()],
            certificates: vec![b"\x30\x82\x01\x0a certificate".to_vec()],
            user: "axis-scu-1".into(),
            key: "k".repeat(43),
            clip_type: ClipType::Mp4,
            encryption: None,
        }
    }

    #[test]
    fn the_connection_file_has_the_spec_s_keys_and_sizes() {
        let json: serde_json::Value = serde_json::from_str(&file().to_json().unwrap()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "ConnectionFileVersion",
            "SiteName",
            "ApplicationName",
            "ApplicationVersion",
            "ContentDestinationAsNTPServer",
            "AuthenticationTokenURI",
            "HTTPSCertificate",
            "BlobAPIKey",
            "BlobAPIUserName",
            "ContainerType",
            "FullStoreAndReadSupport",
            "WantEncryption",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        assert_eq!(json["ConnectionFileVersion"], "1.0");
        assert_eq!(json["ContainerType"], "mp4");
        assert_eq!(json["WantEncryption"], false);
        assert!(
            json.get("PublicKey").is_none(),
            "no value allowed without encryption"
        );
        assert_eq!(json["HTTPSCertificate"][0], "MIIBCiBjZXJ0aWZpY2F0ZQ==");

        let mut encrypted = file();
        encrypted.encryption = Some(("-----BEGIN PUBLIC KEY-----\n".into(), "custos-1".into()));
        let json: serde_json::Value = serde_json::from_str(&encrypted.to_json().unwrap()).unwrap();
        assert_eq!(json["WantEncryption"], true);
        assert_eq!(json["PublicKeyId"], "custos-1");
        assert_eq!(json["PublicKey"], "LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0K");
    }

    #[test]
    fn a_connection_file_out_of_the_spec_is_refused() {
        type Change = Box<dyn Fn(&mut ConnectionFile)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|f| f.site_name = "x".repeat(65)), "SiteName"),
            (Box::new(|f| f.site_name = "a\nb".into()), "control"),
            (Box::new(|f| f.key = "k".repeat(65)), "BlobAPIKey"),
            (Box::new(|f| f.user = String::new()), "credentials"),
            (Box::new(|f| f.token_uris.clear()), "one to ten"),
            (
                Box::new(|f| f.token_uris = vec!["https://x".into(); 11]),
                "one to ten",
            ),
            (
                Box::new(|f| f.token_uris = vec!["http://custos/auth/v1.0".into()]),
                "https",
            ),
            (
                Box::new(|f| f.certificates = vec![vec![0; 13_000]]),
                "HTTPSCertificate",
            ),
            (
                Box::new(|f| f.encryption = Some(("k".into(), "i".repeat(129)))),
                "PublicKeyId",
            ),
        ];
        for (change, why) in cases {
            let mut f = file();
            change(&mut f);
            let err = f.to_json().unwrap_err();
            assert_eq!(err.code(), "connection-file");
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn system_objects_carry_the_md5_of_their_bytes_as_etag() {
        // RFC 1321's test vector.
        assert_eq!(etag(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        let (body, tag) = Capabilities {
            categories: true,
            system_id: true,
            user_id_key: true,
            bookmarks: true,
            signed_video: false,
            gnss_track: true,
            rejected_content: true,
        }
        .object();
        assert_eq!(tag, etag(&body));
        let caps: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(caps["Store"]["StoreSignedVideo"], false);
        assert_eq!(caps["StoreAndRead"]["StoreReadSystemID"], true);
        let (body, tag) = categories_object(&[Category {
            name: "Overlast".into(),
            id: "1".into(),
        }]);
        assert_eq!(tag, etag(&body));
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!([{"Name": "Overlast", "Id": "1"}])
        );
    }
}
