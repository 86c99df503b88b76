//! The stand-in's certificate (self-signed for `discord.com`, made at start with rcgen) and its
//! accept loops: each connection served by hyper, closable by its handler (dropped connections).

use std::sync::Arc;

use axum::{Extension, Router};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Notify};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::ring::default_provider,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

use super::ConnKill;

/// A certificate for `discord.com` and the acceptor serving it.
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) ca_pem: String,
}

impl Tls {
    pub(crate) fn new() -> std::io::Result<Self> {
        let other = |e: String| std::io::Error::other(e);
        let key = rcgen::generate_simple_self_signed(vec!["discord.com".to_owned()])
            .map_err(|e| other(e.to_string()))?;
        let cert = CertificateDer::from(key.cert.der().to_vec());
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| other(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![cert], private)
            .map_err(|e| other(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_pem: key.cert.pem(),
        })
    }
}

/// Accepts connections on `listener` forever (TLS when `acceptor` is given).
pub(crate) async fn serve(listener: TcpListener, acceptor: Option<TlsAcceptor>, router: Router) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let service = TowerToHyperService::new(router.layer(Extension(ConnKill(kill.clone()))));
            let builder = auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(a) => {
                    let Ok(stream) = a.accept(tcp).await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        () = kill.notified() => {}
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    tokio::select! {
                        _ = conn => {}
                        () = kill.notified() => {}
                    }
                }
            }
        });
    }
}
