package returns

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Limits of a product.
const (
	// MaxVariants is the most variants a product may have.
	MaxVariants = 250
	// MaxVariantOptions is the most option values (size, colour, …) a variant may have.
	MaxVariantOptions = 5
	// MaxStock is the largest available count a variant may have.
	MaxStock = 1_000_000_000
)

// Product is what a returned line can be exchanged for, as the shop sends it with
// PUT /v1/products/{product_id}: the product's variants, each with its price per
// currency and its stock. Order lines name their product with product_id; a line
// can be exchanged for another variant of its product, in stock, priced in the
// order's currency.
type Product struct {
	Name     string    `json:"name" minLength:"1" maxLength:"500" example:"Classic T-shirt" doc:"The product's name, as the shopper knows it."`
	Variants []Variant `json:"variants" minItems:"1" maxItems:"250" doc:"Every variant of the product, each with a unique SKU. Variants left out of a new PUT are removed."`
}

// Variant is one sellable variant of a product.
type Variant struct {
	SKU       string           `json:"sku" minLength:"1" maxLength:"255" example:"TEE-BLK-L" doc:"Stock keeping unit, unique within the shop."`
	Name      string           `json:"name,omitempty" maxLength:"500" example:"Classic T-shirt, black, L" doc:"Name of the variant; default: the product's name and the option values."`
	Options   []VariantOption  `json:"options" required:"false" maxItems:"5" doc:"Option values that tell the variants apart, in the order the shopper should read them (size, then colour)."`
	Prices    map[string]int64 `json:"prices" example:"{\"EUR\":2500,\"GBP\":2200}" doc:"Price of one unit per ISO 4217 currency, in minor units, tax included as on the order lines. A variant can replace a line only in a currency it has a price in."`
	Available int              `json:"available" minimum:"0" maximum:"1000000000" example:"12" doc:"Units the shop can ship now. A variant with none is shown but not offered. Roundtrip holds units for open exchanges on top of this count until they are released to the shop."`
	ImageURL  string           `json:"image_url,omitempty" format:"uri" maxLength:"2048" example:"https://shop.example.com/img/tee-black.jpg" doc:"Image shown in the portal."`
}

// VariantOption is one option value of a variant, such as Size M.
type VariantOption struct {
	Name  string `json:"name" minLength:"1" maxLength:"100" example:"Size" doc:"The option, as the shopper reads it."`
	Value string `json:"value" minLength:"1" maxLength:"100" example:"L" doc:"The variant's value of it."`
}

// StockedVariant is a variant with its product and what is left of its stock.
type StockedVariant struct {
	Variant
	ProductID string `json:"product_id" example:"tee-classic"`
	Reserved  int    `json:"reserved" example:"1" doc:"Units held for open exchanges."`
	InStock   int    `json:"in_stock" example:"11" doc:"available − reserved (never below 0): what can still be promised."`
}

// Label is the variant's option values in words, "Black / L", or its name when it
// has none.
func (v Variant) Label() string {
	if len(v.Options) == 0 {
		return v.Name
	}
	parts := make([]string, len(v.Options))
	for i, o := range v.Options {
		parts[i] = o.Value
	}
	return strings.Join(parts, " / ")
}

// Validate checks the product and returns a *validation.Error naming every wrong
// field by its JSON path ("variants[2].prices.EUR"), or nil. It fills in the names of
// variants that have none.
func (p *Product) Validate() error {
	var v validation.Error
	nonEmpty(&v, "name", p.Name, 500)
	switch {
	case len(p.Variants) == 0:
		v.Add("variants", "must have at least one variant")
	case len(p.Variants) > MaxVariants:
		v.Add("variants", "must have at most %d variants", MaxVariants)
	}
	seen := map[string]int{}
	for i := range p.Variants {
		vr := &p.Variants[i]
		path := fmt.Sprintf("variants[%d].", i)
		if strings.TrimSpace(vr.SKU) == "" || len(vr.SKU) > 255 {
			v.AddValue(path+"sku", vr.SKU, "must be 1 to 255 bytes, not only spaces")
		} else if j, dup := seen[vr.SKU]; dup {
			v.AddValue(path+"sku", vr.SKU, "duplicates variants[%d].sku: SKUs must be unique", j)
		} else {
			seen[vr.SKU] = i
		}
		if len(vr.Name) > 500 {
			v.Add(path+"name", "must be at most 500 bytes")
		}
		if len(vr.Options) > MaxVariantOptions {
			v.Add(path+"options", "must have at most %d options", MaxVariantOptions)
		}
		for k, o := range vr.Options {
			op := fmt.Sprintf("%soptions[%d].", path, k)
			nonEmpty(&v, op+"name", o.Name, 100)
			nonEmpty(&v, op+"value", o.Value, 100)
		}
		if len(vr.Prices) == 0 {
			v.Add(path+"prices", "must give a price in at least one currency")
		}
		perCurrency(&v, path+"prices", vr.Prices)
		if vr.Available < 0 || vr.Available > MaxStock {
			v.AddValue(path+"available", vr.Available, "must be between 0 and %d", MaxStock)
		}
		if vr.ImageURL != "" {
			if u, err := url.Parse(vr.ImageURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(vr.ImageURL) > 2048 {
				v.AddValue(path+"image_url", vr.ImageURL, "must be an absolute http or https URL of at most 2048 bytes")
			}
		}
		if strings.TrimSpace(vr.Name) == "" {
			vr.Name = strings.TrimSpace(p.Name)
			if l := vr.Label(); l != "" {
				vr.Name += ", " + l
			}
		}
	}
	return v.Err()
}

// OutOfStockError is an exchange for more units of a variant than are left: another
// shopper's exchange holds the last ones, or the shop has none.
type OutOfStockError struct {
	SKU     string
	Name    string
	InStock int
}

func (e *OutOfStockError) Error() string {
	return fmt.Sprintf("returns: %s (%s) is out of stock: %d left", e.Name, e.SKU, e.InStock)
}
