-- Per-card feature state of the online scorer: the serialized
-- fraud_core::features::CardHistory of each card.
--
-- cc_num is numeric(20,0), not bigint: card numbers are u64 and Sparkov's 19-digit
-- numbers can exceed bigint's maximum (9223372036854775807). numeric(20,0) holds every
-- u64 exactly, sorts and prints as the number itself, and the CHECK refuses anything
-- that is not a u64.
CREATE TABLE card_history (
    cc_num     numeric(20, 0) PRIMARY KEY
               CHECK (cc_num >= 0 AND cc_num <= 18446744073709551615),
    history    jsonb          NOT NULL,
    updated_at timestamptz    NOT NULL DEFAULT now()
);
