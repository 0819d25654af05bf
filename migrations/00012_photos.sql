-- +goose Up
-- Photos a shopper attaches to a return for a merchant-fault reason (damaged, wrong
-- item, not as described), as evidence for the staff who review and receive it. They
-- are decoded and re-encoded before they are stored, so no metadata (location,
-- camera) is kept. A photo is uploaded with the portal's form key before the return
-- exists (return_id NULL) and joins the return in the transaction that creates it.
CREATE TABLE return_photos (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    order_id     bigint NOT NULL REFERENCES orders(id),
    return_id    bigint REFERENCES returns(id),
    upload_key   text NOT NULL CHECK (upload_key ~ '^[0-9a-f]{32}$'),
    line_id      text NOT NULL,
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    width        int NOT NULL CHECK (width > 0),
    height       int NOT NULL CHECK (height > 0),
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX return_photos_return ON return_photos (merchant_id, return_id) WHERE return_id IS NOT NULL;
CREATE INDEX return_photos_upload ON return_photos (merchant_id, order_id, upload_key);

-- +goose Down
DROP TABLE return_photos;
