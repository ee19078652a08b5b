//! Credentials as `az` users expect them, in this order (azure_identity has no default
//! chain yet):
//!
//! 1. a static bearer token from `--access-token-file` (a file only its owner can read);
//! 2. a static bearer token from `BYOK_ACCESS_TOKEN`;
//! 3. otherwise a chain, the first that yields a token wins: a service principal from
//!    `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, a managed identity,
//!    the Azure CLI's login.
//!
//! [`sources`] decides the order from the connection and the environment without any
//! network; [`credential`] builds the SDK credentials from it.
//!
//! Blob Storage (the online backup copy) gets its own token, never the Key Vault one:
//! `BYOK_STORAGE_TOKEN` when set, else the chain asked for the storage scope
//! ([`storage_sources`]). A static Key Vault token (`--access-token-file`,
//! `BYOK_ACCESS_TOKEN`) is a token for Key Vault only, so with one and no
//! `BYOK_STORAGE_TOKEN` the copy is refused rather than sent that token.

use super::Connection;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::ClientOptions;
use azure_core::time::{Duration, OffsetDateTime};
use byok_core::{bail, err, Result};
use std::sync::Arc;

/// A bearer token from a file or the environment.
#[derive(Debug)]
struct StaticToken(Secret);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        // A far expiry: the SDK must never try to refresh a token it cannot renew.
        Ok(AccessToken::new(
            self.0.secret().to_string(),
            OffsetDateTime::now_utc() + Duration::days(365),
        ))
    }
}

/// Try credentials in turn; the first that yields a token wins.
#[derive(Debug)]
struct Chain(Vec<Arc<dyn TokenCredential>>);

#[async_trait::async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut errs = Vec::new();
        for c in &self.0 {
            match c.get_token(scopes, options.clone()).await {
                Ok(t) => return Ok(t),
                Err(e) => errs.push(e.to_string()),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!(
                "no credential worked ({}); run `az login`, or give --access-token-file or BYOK_ACCESS_TOKEN",
                errs.join("; ")
            ),
        ))
    }
}

/// Where a token may come from, in the order tried.
#[derive(Debug)]
pub(crate) enum Source {
    /// `--access-token-file`: used alone.
    TokenFile(Secret),
    /// `BYOK_ACCESS_TOKEN`: used alone.
    TokenEnv(Secret),
    /// `BYOK_STORAGE_TOKEN`: the Blob Storage token, used alone (for Blob Storage only).
    StorageTokenEnv(Secret),
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`.
    ServicePrincipal {
        tenant: String,
        client: String,
        secret: Secret,
    },
    ManagedIdentity,
    AzureCli,
}

impl Source {
    #[cfg(test)]
    fn name(&self) -> &'static str {
        match self {
            Source::TokenFile(_) => "token file",
            Source::TokenEnv(_) => "BYOK_ACCESS_TOKEN",
            Source::StorageTokenEnv(_) => "BYOK_STORAGE_TOKEN",
            Source::ServicePrincipal { .. } => "service principal",
            Source::ManagedIdentity => "managed identity",
            Source::AzureCli => "azure cli",
        }
    }
}

/// A bearer token goes into an HTTP header: anything but visible ASCII (a line break, a
/// space, a control character) would split or bend that header, so it is refused before
/// any request, without echoing the secret.
fn check_token(token: &str, from: &str) -> Result<()> {
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "{from} holds characters a bearer token cannot have (spaces, line breaks or control characters inside it): put the token alone on one line"
        );
    }
    Ok(())
}

/// The sources to try, in order, for `conn` and the environment `env` (a lookup, so
/// tests need not change the process's environment). A static token stands alone.
pub(crate) fn sources(
    conn: &Connection,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Source>> {
    if let Some(path) = &conn.access_token_file {
        let raw = byok_core::fsutil::read_secret_file(path, "access token file")?;
        let token = std::str::from_utf8(&raw)
            .map_err(|_| err!("access token file {} is not text", path.display()))?
            .trim();
        if token.is_empty() {
            bail!("access token file {} is empty", path.display());
        }
        check_token(token, &format!("access token file {}", path.display()))?;
        return Ok(vec![Source::TokenFile(Secret::new(token.to_string()))]);
    }
    if let Some(token) = env("BYOK_ACCESS_TOKEN") {
        let token = token.trim();
        if !token.is_empty() {
            check_token(token, "BYOK_ACCESS_TOKEN")?;
            return Ok(vec![Source::TokenEnv(Secret::new(token.to_string()))]);
        }
    }
    let mut out = Vec::new();
    let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if let (Some(tenant), Some(client), Some(secret)) = (
        nonempty("AZURE_TENANT_ID"),
        nonempty("AZURE_CLIENT_ID"),
        nonempty("AZURE_CLIENT_SECRET"),
    ) {
        out.push(Source::ServicePrincipal {
            tenant,
            client,
            secret: Secret::new(secret),
        });
    }
    out.push(Source::ManagedIdentity);
    out.push(Source::AzureCli);
    Ok(out)
}

/// Where the token for Blob Storage comes from, for `conn` and the environment `env`:
/// `BYOK_STORAGE_TOKEN` alone when set; else, when the Key Vault token is a static one
/// (which is a Key Vault token and must go nowhere else), an error saying what to set;
/// else the chain, which asks each identity for a token of the storage scope.
pub(crate) fn storage_sources(
    conn: &Connection,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Source>> {
    let vault = sources(conn, &env)?;
    let vault_static = match vault.first() {
        Some(Source::TokenFile(t)) | Some(Source::TokenEnv(t)) => Some(t.secret().to_string()),
        _ => None,
    };
    if let Some(token) = env("BYOK_STORAGE_TOKEN") {
        let token = token.trim();
        if !token.is_empty() {
            check_token(token, "BYOK_STORAGE_TOKEN")?;
            if vault_static.as_deref() == Some(token) {
                bail!(
                    "BYOK_STORAGE_TOKEN is the Key Vault access token, which byok never sends to Blob Storage: set it to a token for {STORAGE_SCOPE} ({STORAGE_TOKEN_HOW})"
                );
            }
            return Ok(vec![Source::StorageTokenEnv(Secret::new(
                token.to_string(),
            ))]);
        }
    }
    if vault_static.is_some() {
        bail!(
            "the Key Vault access token (--access-token-file or BYOK_ACCESS_TOKEN) is never sent to Blob Storage: for --copy-to set BYOK_STORAGE_TOKEN to a token for {STORAGE_SCOPE} ({STORAGE_TOKEN_HOW}), or sign in with az login, a service principal or a managed identity"
        );
    }
    Ok(vault)
}

/// The scope of a token for Blob Storage.
pub(crate) const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

const STORAGE_TOKEN_HOW: &str =
    "az account get-access-token --resource https://storage.azure.com/ --query accessToken -o tsv";

/// The credential for Blob Storage for `conn`, from the process's environment.
pub(crate) fn storage_credential(
    conn: &Connection,
    options: &ClientOptions,
) -> Result<Arc<dyn TokenCredential>> {
    build(storage_sources(conn, |k| std::env::var(k).ok())?, options)
}

/// The credential for `conn`, from the process's environment.
pub(crate) fn credential(
    conn: &Connection,
    options: &ClientOptions,
) -> Result<Arc<dyn TokenCredential>> {
    build(sources(conn, |k| std::env::var(k).ok())?, options)
}

fn build(sources: Vec<Source>, options: &ClientOptions) -> Result<Arc<dyn TokenCredential>> {
    let mut chain: Vec<Arc<dyn TokenCredential>> = Vec::new();
    for s in sources {
        match s {
            Source::TokenFile(t) | Source::TokenEnv(t) | Source::StorageTokenEnv(t) => {
                return Ok(Arc::new(StaticToken(t)))
            }
            Source::ServicePrincipal {
                tenant,
                client,
                secret,
            } => chain.push(
                azure_identity::ClientSecretCredential::new(
                    &tenant,
                    client,
                    secret,
                    Some(azure_identity::ClientSecretCredentialOptions {
                        client_options: options.clone(),
                    }),
                )
                .map_err(|e| {
                    err!(
                        Service,
                        "the service principal in AZURE_* is not usable ({e}); check AZURE_TENANT_ID and AZURE_CLIENT_ID"
                    )
                })?,
            ),
            Source::ManagedIdentity => {
                if let Ok(mi) = azure_identity::ManagedIdentityCredential::new(Some(
                    azure_identity::ManagedIdentityCredentialOptions {
                        client_options: options.clone(),
                        ..Default::default()
                    },
                )) {
                    chain.push(mi);
                }
            }
            Source::AzureCli => {
                if let Ok(cli) = azure_identity::AzureCliCredential::new(None) {
                    chain.push(cli);
                }
            }
        }
    }
    Ok(Arc::new(Chain(chain)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::{ErrorKind, Mode};
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn conn(file: Option<PathBuf>) -> Connection {
        Connection {
            ca_file: None,
            access_token_file: file,
            mode: Mode::Ceremony,
        }
    }

    fn names(c: &Connection, env: &[(&str, &str)]) -> Vec<&'static str> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        sources(c, |k| env.get(k).cloned())
            .unwrap()
            .iter()
            .map(Source::name)
            .collect()
    }

    const SP: [(&str, &str); 3] = [
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "c"),
        ("AZURE_CLIENT_SECRET", "s"),
    ];

    fn token_file(dir: &tempfile::TempDir, text: &str, mode: u32) -> PathBuf {
        let p = dir.path().join(format!("token-{mode:o}"));
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn the_chain_order() {
        let c = conn(None);
        assert_eq!(names(&c, &[]), ["managed identity", "azure cli"]);
        assert_eq!(
            names(&c, &SP),
            ["service principal", "managed identity", "azure cli"]
        );
        // An incomplete service principal is not tried.
        assert_eq!(names(&c, &SP[..2]), ["managed identity", "azure cli"]);
        assert_eq!(
            names(&c, &[SP[0], SP[1], ("AZURE_CLIENT_SECRET", " ")]),
            ["managed identity", "azure cli"]
        );
        // BYOK_ACCESS_TOKEN stands alone, before any chain; a blank one is ignored.
        let mut env = SP.to_vec();
        env.push(("BYOK_ACCESS_TOKEN", " tok "));
        assert_eq!(names(&c, &env), ["BYOK_ACCESS_TOKEN"]);
        assert_eq!(
            names(&c, &[("BYOK_ACCESS_TOKEN", "  ")]),
            ["managed identity", "azure cli"]
        );
    }

    #[test]
    fn the_token_file_comes_first_and_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let good = token_file(&dir, " file-token\n", 0o600);
        let c = conn(Some(good));
        assert_eq!(names(&c, &[("BYOK_ACCESS_TOKEN", "env")]), ["token file"]);
        match sources(&c, |_| None).unwrap().as_slice() {
            [Source::TokenFile(t)] => assert_eq!(t.secret(), "file-token"),
            other => panic!("{other:?}"),
        }
        // Group-readable: refused, the message says what to do and never shows the token.
        let open = token_file(&dir, "SECRET-token", 0o640);
        let e = sources(&conn(Some(open)), |_| None).unwrap_err();
        assert!(e.message().contains("chmod 600"), "{e}");
        assert!(!e.message().contains("SECRET"), "{e}");
        let empty = token_file(&dir, " \n", 0o400);
        assert!(sources(&conn(Some(empty)), |_| None).is_err());
        let missing = dir.path().join("missing");
        assert!(sources(&conn(Some(missing)), |_| None).is_err());
    }

    fn storage_names(c: &Connection, env: &[(&str, &str)]) -> Result<Vec<&'static str>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(storage_sources(c, |k| env.get(k).cloned())?
            .iter()
            .map(Source::name)
            .collect())
    }

    #[test]
    fn blob_storage_never_gets_the_key_vault_token() {
        let dir = tempfile::tempdir().unwrap();
        let c = conn(None);
        // The chain: each identity is asked for a storage token.
        assert_eq!(
            storage_names(&c, &SP).unwrap(),
            ["service principal", "managed identity", "azure cli"]
        );
        // BYOK_STORAGE_TOKEN stands alone, with or without a Key Vault token.
        let st = ("BYOK_STORAGE_TOKEN", " storage-token ");
        assert_eq!(storage_names(&c, &[st]).unwrap(), ["BYOK_STORAGE_TOKEN"]);
        assert_eq!(
            storage_names(&c, &[("BYOK_ACCESS_TOKEN", "kv-token"), st]).unwrap(),
            ["BYOK_STORAGE_TOKEN"]
        );
        let file = conn(Some(token_file(&dir, "kv-SECRET", 0o600)));
        match storage_sources(&file, |k| (k == "BYOK_STORAGE_TOKEN").then(|| "s".into()))
            .unwrap()
            .as_slice()
        {
            [Source::StorageTokenEnv(t)] => assert_eq!(t.secret(), "s"),
            other => panic!("{other:?}"),
        }
        // A static Key Vault token without BYOK_STORAGE_TOKEN: refused, naming what to set.
        for (c, env) in [
            (&c, vec![("BYOK_ACCESS_TOKEN", "kv-SECRET")]),
            (&file, vec![]),
            (
                &c,
                vec![
                    ("BYOK_ACCESS_TOKEN", "kv-SECRET"),
                    ("BYOK_STORAGE_TOKEN", " "),
                ],
            ),
        ] {
            let e = storage_names(c, &env).unwrap_err();
            assert!(e.message().contains("never sent to Blob Storage"), "{e}");
            assert!(e.message().contains("BYOK_STORAGE_TOKEN"), "{e}");
            assert!(!e.message().contains("SECRET"), "{e}");
        }
        // The same token in both: refused too.
        let e = storage_names(
            &c,
            &[
                ("BYOK_ACCESS_TOKEN", "kv-SECRET"),
                ("BYOK_STORAGE_TOKEN", "kv-SECRET"),
            ],
        )
        .unwrap_err();
        assert!(e.message().contains("is the Key Vault access token"), "{e}");
        assert!(!e.message().contains("SECRET"), "{e}");
    }

    #[derive(Debug)]
    struct Fake(Option<&'static str>);

    #[async_trait::async_trait]
    impl TokenCredential for Fake {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            match self.0 {
                Some(t) => Ok(AccessToken::new(t.to_string(), OffsetDateTime::now_utc())),
                None => Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "fake refused",
                )),
            }
        }
    }

    fn token(c: &dyn TokenCredential) -> azure_core::Result<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(c.get_token(&["scope"], None))
            .map(|t| t.token.secret().to_string())
    }

    #[test]
    fn the_chain_takes_the_first_that_works() {
        let chain = Chain(vec![
            Arc::new(Fake(None)),
            Arc::new(Fake(Some("second"))),
            Arc::new(Fake(Some("third"))),
        ]);
        assert_eq!(token(&chain).unwrap(), "second");
        let none = Chain(vec![Arc::new(Fake(None)), Arc::new(Fake(None))]);
        let e = token(&none).unwrap_err();
        assert!(matches!(e.kind(), azure_core::error::ErrorKind::Credential));
        assert!(e.to_string().contains("fake refused; fake refused"), "{e}");
        assert!(e.to_string().contains("az login"), "{e}");
        let mapped = super::super::sdk_error("getting a token", e);
        assert_eq!(mapped.kind(), ErrorKind::Service);
    }

    #[test]
    fn tokens_that_would_bend_a_header_are_refused() {
        let env = |k: &str| match k {
            "BYOK_ACCESS_TOKEN" => Some("secret\r\nX-Evil: 1".to_string()),
            _ => None,
        };
        let conn = Connection {
            ca_file: None,
            access_token_file: None,
            mode: byok_core::Mode::Ceremony,
        };
        let e = sources(&conn, env).unwrap_err();
        assert!(
            e.message()
                .starts_with("BYOK_ACCESS_TOKEN holds characters"),
            "{e}"
        );
        assert!(
            !e.message().contains("secret"),
            "the token is not echoed: {e}"
        );
        assert!(check_token("eyJ0eXAi.eyJhdWQi-_~+/=", "t").is_ok());
    }

    #[test]
    fn static_tokens_are_built_alone() {
        let c = build(
            vec![Source::TokenEnv(Secret::new("tok")), Source::AzureCli],
            &ClientOptions::default(),
        )
        .unwrap();
        assert_eq!(token(c.as_ref()).unwrap(), "tok");
    }
}
