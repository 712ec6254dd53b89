// The API's problem messages are English sentences, stable by `code`. In French the
// storefront shows its own sentence for the codes a shopper meets; any other code
// shows the API's message as it is (better English than nothing).
import type { Locale } from "./index";

const french: Record<string, string> = {
  network_error: "La boutique est injoignable. Vérifiez votre connexion et réessayez.",
  invalid_credentials: "E-mail ou mot de passe incorrect.",
  account_inactive: "Ce compte est désactivé.",
  app_user_email_key: "Un compte utilise déjà cet e-mail.",
  app_user_username_key: "Ce nom d’utilisateur est déjà pris.",
  weak_password: "Mot de passe trop faible : au moins 10 caractères, pas votre e-mail.",
  invalid_email: "Cette adresse e-mail n’est pas valide.",
  rate_limited: "Trop d’essais : patientez un peu avant de réessayer.",
  coupon_not_found: "Ce code promo n’existe pas.",
  coupon_expired: "Ce code promo a expiré.",
  coupon_not_started: "Ce code promo n’est pas encore valable.",
  coupon_inactive: "Ce code promo n’est plus actif.",
  coupon_exhausted: "Ce code promo a été entièrement utilisé.",
  coupon_customer_limit_reached: "Vous avez déjà utilisé ce code promo.",
  coupon_not_applicable: "Votre panier ne remplit pas les conditions de ce code promo.",
  insufficient_stock: "Stock insuffisant pour la quantité demandée.",
  variant_not_found: "Cet article n’est plus vendu.",
  variant_not_priced: "Cet article n’est pas vendu dans cette devise.",
  cart_not_found: "Votre panier a expiré : ajoutez de nouveau vos articles.",
  cart_expired: "Votre panier a expiré : ajoutez de nouveau vos articles.",
  cart_empty: "Votre panier est vide.",
  item_unavailable: "Un article de votre panier n’est plus vendu.",
  price_changed: "Les prix ont changé : vérifiez le nouveau total.",
  shipping_method_unavailable: "Ce mode de livraison n’est pas proposé pour cette destination.",
  shipping_method_not_found: "Ce mode de livraison n’existe plus.",
  invalid_field: "Vérifiez ce champ.",
  address_invalid: "Cette adresse n’est pas valide.",
  order_not_found: "Aucune commande de ce numéro ne peut vous être montrée.",
  product_not_found: "Ce produit n’existe pas ou n’est plus en vente.",
  order_not_payable: "Cette commande ne peut plus être payée (déjà payée, expirée ou annulée).",
  payment_provider_unavailable: "Ce moyen de paiement n’est pas proposé.",
  currency_not_supported: "Ce moyen de paiement n’accepte pas la devise de la commande.",
  cash_on_delivery_unavailable: "Le paiement à la livraison n’est pas proposé pour cette adresse ou ce montant.",
  payment_provider_refused: "Le prestataire de paiement a refusé le paiement.",
  payment_provider_error: "Le prestataire de paiement a rencontré une erreur.",
  payment_provider_unreachable: "Le prestataire de paiement ne répond pas.",
  idempotency_key_in_flight: "Votre paiement est déjà en cours : patientez un instant.",
  review_body_too_short: "Votre avis est trop court.",
  review_body_too_long: "Votre avis est trop long.",
  review_title_too_long: "Ce titre est trop long.",
  review_rating_check: "Choisissez une note de 1 à 5.",
  review_vote_exists: "Vous avez déjà voté pour cet avis.",
  own_review_vote: "Vous ne pouvez pas voter pour votre propre avis.",
  authentication_required: "Connectez-vous pour continuer.",
};

/** The sentence to show for a problem, in the shopper's language. */
export function problemText(locale: Locale, code: string, message: string): string {
  return (locale === "fr" && french[code]) || message;
}
