//! Who is calling, and what a route requires of them.
//!
//! [`Caller`] reads an optional `Authorization: Bearer <JWT>`; a request without one is
//! anonymous, one with a bad token is refused (401). Its role and claims are set in
//! the request's transaction by [`crate::db::call`], so row-level security and
//! `shop.current_user_id()` see them. [`Require`] declares, next to a handler, the
//! permission the route needs (401 without a token, 403 without the permission).

use std::{marker::PhantomData, net::SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderValue, StatusCode},
};

use crate::{auth::tokens::AccessClaims, error::ApiError, AppState};

/// The caller of a request, as the database sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The database role the transaction runs as (`maef_anon`, `maef_customer`, …).
    pub role: String,
    /// The JWT claims as JSON text, readable in SQL via
    /// `current_setting('request.jwt.claims', true)`.
    pub claims: String,
    /// The signed-in user, if any.
    pub user_id: Option<uuid::Uuid>,
    /// Their permissions.
    pub scopes: Vec<String>,
    /// Their e-mail at sign-in.
    pub email: Option<String>,
}

impl Caller {
    /// The anonymous caller.
    pub fn anonymous() -> Self {
        Self {
            role: "maef_anon".into(),
            claims: r#"{"role":"maef_anon"}"#.into(),
            user_id: None,
            scopes: Vec::new(),
            email: None,
        }
    }

    fn from_claims(claims: AccessClaims) -> Self {
        let json = serde_json::json!({
            "sub": claims.sub, "role": claims.role, "scope": claims.scope, "email": claims.email,
            "jti": claims.jti, "exp": claims.exp,
        });
        Self {
            scopes: claims.scope.split_whitespace().map(String::from).collect(),
            role: claims.role,
            claims: json.to_string(),
            user_id: Some(claims.sub),
            email: Some(claims.email),
        }
    }

    /// Whether the caller holds a permission.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// 401 with the `WWW-Authenticate` challenge of RFC 6750.
pub fn unauthorized(code: &str, message: &str, error: Option<&str>) -> ApiError {
    let challenge = match error {
        Some(e) => format!("Bearer realm=\"maef\", error=\"invalid_token\", error_description=\"{e}\""),
        None => "Bearer realm=\"maef\"".to_string(),
    };
    ApiError::new(StatusCode::UNAUTHORIZED, code, message).header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer")),
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Self::anonymous());
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| {
                unauthorized(
                    "invalid_token",
                    "the Authorization header must be `Bearer <token>`",
                    Some("malformed header"),
                )
            })?;
        let claims = state
            .tokens
            .verify(token)
            .map_err(|e| unauthorized("invalid_token", &e.0, Some(&e.0)))?;
        Ok(Self::from_claims(claims))
    }
}

/// A permission a route may require.
pub trait Permission {
    /// The permission's name, or `None` when any signed-in user will do.
    const SCOPE: Option<&'static str>;
}

/// Any signed-in user.
pub struct SignedIn;
impl Permission for SignedIn {
    const SCOPE: Option<&'static str> = None;
}

/// Declares permission markers for [`Require`] (`/// doc` then `Name = "scope";`).
/// Every marker's scope is listed in [`PERMISSIONS`], which a test checks against the
/// `shop.permission` rows: a permission is defined once, by its migration row, and a
/// marker naming no row fails that test (docs/contributing.md has the recipe).
macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident = $scope:literal;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl Permission for $name {
                const SCOPE: Option<&'static str> = Some($scope);
            }
        )*
        /// The scope of every permission marker.
        pub const PERMISSIONS: &[&str] = &[$($scope),*];
    };
}

permissions! {
    /// `users:admin`: list users, change roles, deactivate accounts.
    UsersAdmin = "users:admin";
    /// `catalog:write`: catalog administration.
    CatalogWrite = "catalog:write";
    /// `media:write`: uploads and derivative requests.
    MediaWrite = "media:write";
    /// `audit:read`: the audit log.
    AuditRead = "audit:read";
    /// `promotions:write`: promotion and coupon administration.
    PromotionsWrite = "promotions:write";
    /// `pricing:write`: tax and shipping rates, store price settings, tiers, customer groups.
    PricingWrite = "pricing:write";
    /// `catalog:read`: the catalog with what shoppers do not see (stock levels, locations).
    CatalogRead = "catalog:read";
    /// `orders:read:any`: every order.
    OrdersReadAny = "orders:read:any";
    /// `orders:write:any`: change any order (notes, shipments, cancellations, returns, refunds).
    OrdersWriteAny = "orders:write:any";
    /// `carriers:admin`: create and change carriers, rotate their webhook secrets.
    CarriersAdmin = "carriers:admin";
    /// `webhooks:write`: webhook endpoints, their delivery logs, the events.
    WebhooksWrite = "webhooks:write";
    /// `emails:admin`: e-mail templates and the e-mail outbox.
    EmailsAdmin = "emails:admin";
    /// `stories:write`: link stories to products, draft products, hide, pull on demand.
    StoriesWrite = "stories:write";
    /// `integrations:admin`: connect and disconnect social accounts and their tokens.
    IntegrationsAdmin = "integrations:admin";
    /// `reviews:write`: write product reviews and vote reviews helpful (customers).
    ReviewsWrite = "reviews:write";
    /// `reviews:moderate`: the moderation queue, approve, reject, reply.
    ReviewsModerate = "reviews:moderate";
    /// `reports:read`: the shop's reports (sales, funnel, stock, searches, payments, customers).
    ReportsRead = "reports:read";
}

/// Extracts a [`Caller`] who holds `P`: 401 when anonymous, 403 without the permission.
pub struct Require<P: Permission>(pub Caller, pub PhantomData<P>);

impl<P: Permission> FromRequestParts<AppState> for Require<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.user_id.is_none() {
            return Err(unauthorized("authentication_required", "sign in first", None));
        }
        if let Some(scope) = P::SCOPE {
            if !caller.has_scope(scope) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "permission_required",
                    format!("this needs the {scope} permission"),
                )
                .header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_str(&format!(
                        "Bearer realm=\"maef\", error=\"insufficient_scope\", scope=\"{scope}\""
                    ))
                    .unwrap_or(HeaderValue::from_static("Bearer")),
                ));
            }
        }
        Ok(Self(caller, PhantomData))
    }
}

/// The client's address, used as a rate-limit key: the socket peer, or the first
/// `X-Forwarded-For` entry when `TRUST_FORWARDED_FOR` is set (behind a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.trust_forwarded_for {
            if let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                return Ok(Self(first.to_string()));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(Self(peer.unwrap_or_else(|| "unknown".into())))
    }
}
