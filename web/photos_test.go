package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// photo is a small JPEG (or PNG) with a camera comment in it.
func photo(t testing.TB, format string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		img.Set(x, x%30, color.RGBA{200, 30, 30, 255})
	}
	var b bytes.Buffer
	if format == "png" {
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	// an EXIF segment with the place the photo was taken
	payload := []byte("Exif\x00\x00GPS 48.8566N 2.3522E")
	exif := append([]byte{0xFF, 0xE1, 0, byte(len(payload) + 2)}, payload...)
	return append(append(append([]byte{}, b.Bytes()[:2]...), exif...), b.Bytes()[2:]...)
}

type upload struct {
	field, name string
	data        []byte
}

// postMultipart posts a form with files, as a browser sends the items form.
func (c *client) postMultipart(path string, fields map[string]string, files []upload) page {
	c.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for _, f := range files {
		fw, err := w.CreateFormFile(f.field, f.name)
		if err != nil {
			c.t.Fatal(err)
		}
		fw.Write(f.data)
	}
	w.Close()
	req, err := http.NewRequest("POST", c.base+path, &body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return read(c.t, res)
}

var (
	itemsKeyRE = regexp.MustCompile(`name="key" value="([0-9a-f]{32})"`)
	photoURLRE = regexp.MustCompile(`src="(/staff/returns/ret_[0-9a-z]+/photos/ph_[0-9a-z]+)"`)
)

// TestPhotoEvidence: photos for a damaged item go with the return, stripped of
// their metadata, into the review queue and to the scan station's URL; what cannot
// be taken is refused in words, and nothing of it is kept.
func TestPhotoEvidence(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t) // manual review: the return waits in the queue
	c := s.client(t)
	home := c.lookUp("northwind", "NW-1", "ada@example.com")
	key := itemsKeyRE.FindStringSubmatch(home.Body)
	if key == nil {
		t.Fatal("the items page has no key")
	}
	mustContain(t, home, `enctype="multipart/form-data"`, `name="photos.0"`, `accept="image/jpeg,image/png"`)
	form := func(reason string) map[string]string {
		return map[string]string{"csrf": home.csrf(t), "key": key[1], "n": "3", "from": "items", "line.0": "l1", "qty.0": "1",
			"reason.0": reason, "line.1": "l2", "line.2": "l3"}
	}
	count := func() int {
		var n int
		if err := s.env.DB.Get(&n, `SELECT count(*) FROM return_photos`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	heic := append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	for _, tc := range []struct {
		name, reason string
		files        []upload
		want         string
	}{
		{"a HEIC photo", "damaged", []upload{{"photos.0", "IMG_0001.HEIC", heic}}, "“IMG_0001.HEIC” is a HEIC photo, which cannot be read here yet."},
		{"not a photo", "damaged", []upload{{"photos.0", "notes.txt", []byte("hello")}}, "“notes.txt” is not a JPEG or PNG photo."},
		{"a photo for a reason that is not the shop's fault", "too_small", []upload{{"photos.0", "a.jpg", photo(t, "jpeg")}}, "Photos are only for items that arrived damaged"},
		{"four photos", "damaged", []upload{{"photos.0", "1.jpg", photo(t, "jpeg")}, {"photos.0", "2.jpg", photo(t, "jpeg")},
			{"photos.0", "3.png", photo(t, "png")}, {"photos.0", "4.jpg", photo(t, "jpeg")}}, "A return can carry at most 3 photos (0 already added)."},
	} {
		p := c.postMultipart("/portal/northwind/quote", form(tc.reason), tc.files)
		wantStatus(t, tc.name, p, http.StatusUnprocessableEntity)
		mustContain(t, p, tc.want)
		if n := count(); n != 0 {
			t.Fatalf("%s: %d photos kept, want none", tc.name, n)
		}
	}
	// German, as the shopper reads it
	de := c.postMultipart("/portal/northwind/quote?lang=de", form("damaged"), []upload{{"photos.0", "IMG_0002.heic", heic}})
	mustContain(t, de, "„IMG_0002.heic“ ist ein HEIC-Foto")

	// without JavaScript: two photos with the quote step, then confirm
	review := c.postMultipart("/portal/northwind/quote", form("damaged"), []upload{{"photos.0", "box.jpg", photo(t, "jpeg")}, {"photos.0", "tear.png", photo(t, "png")}})
	wantStatus(t, "quote with photos", review, http.StatusOK)
	mustContain(t, review, "2 photos go with your return.", `name="key" value="`+key[1]+`"`)
	done := c.post("/portal/northwind/returns", map[string][]string{"csrf": {home.csrf(t)}, "key": {key[1]}, "n": {"1"}, "line.0": {"l1"},
		"qty.0": {"1"}, "reason.0": {"damaged"}, "resolution": {"refund"}})
	wantStatus(t, "confirm", done, http.StatusSeeOther)
	var stored []struct {
		ReturnID *int64 `db:"return_id"`
		Type     string `db:"content_type"`
		Data     []byte `db:"data"`
	}
	if err := s.env.DB.Select(&stored, `SELECT return_id, content_type, data FROM return_photos ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].ReturnID == nil || stored[0].Type != "image/jpeg" || stored[1].Type != "image/png" {
		t.Fatalf("stored photos: got %d, want a JPEG and a PNG of the return", len(stored))
	}
	if bytes.Contains(stored[0].Data, []byte("GPS")) || bytes.Contains(stored[0].Data, []byte("Exif")) {
		t.Errorf("the stored JPEG keeps its EXIF data")
	}

	// the review queue shows them, and the URL serves them to staff only
	admin := s.client(t)
	q := admin.signIn("northwind", "boss")
	mustContain(t, q, "Photos from the shopper", `alt="Photo of Organic T-shirt, black, M"`)
	urls := photoURLRE.FindAllStringSubmatch(q.Body, -1)
	if len(urls) != 2 {
		t.Fatalf("queue photos: got %d, want 2", len(urls))
	}
	var retID string
	s.env.DB.Get(&retID, `SELECT public_id FROM returns WHERE id = $1`, *stored[0].ReturnID)
	if want := "/staff/returns/" + retID + "/photos/"; retID == "" || !strings.HasPrefix(urls[0][1], want) {
		t.Errorf("photo URL %s, want under %s", urls[0][1], want)
	}
	wh := s.client(t)
	wh.signIn("northwind", "ana")
	res, err := wh.hc.Get(s.env.URL + urls[0][1])
	if err != nil {
		t.Fatal(err)
	}
	img := read(t, res)
	if img.Status != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" || img.Body != string(stored[0].Data) {
		t.Errorf("warehouse photo: got %d %s, %d bytes", img.Status, res.Header.Get("Content-Type"), len(img.Body))
	}
	if p := c.get(urls[0][1]); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/signin") {
		t.Errorf("the shopper opens a staff photo URL: got %d %s, want the sign-in", p.Status, p.Location)
	}
	fin := s.client(t)
	fin.signIn("northwind", "fin")
	if p := fin.get(urls[0][1]); p.Status != http.StatusForbidden {
		t.Errorf("finance opens a photo: got %d, want 403", p.Status)
	}
	s.order(t, "NW-2", "grace@example.com", "Grace")
	other := s.env.Merchant(t, "southwind")
	s.user(t, other, "sam", "warehouse")
	sam := s.client(t)
	sam.signIn("southwind", "sam")
	if p := sam.get(urls[0][1]); p.Status != http.StatusNotFound {
		t.Errorf("another shop's staff open the photo: got %d, want 404", p.Status)
	}

	// the body limit still holds: more than three photos' worth is 413, in words
	big := c.postMultipart("/portal/northwind/quote", form("damaged"), []upload{{"photos.0", "huge.jpg", make([]byte, 26<<20)}})
	wantStatus(t, "an oversized form", big, http.StatusRequestEntityTooLarge)
	mustContain(t, big, "The form was too large (25 MB at most, photos included).")
	// and the other forms keep theirs
	small := c.post("/portal/northwind/signout", map[string][]string{"csrf": {home.csrf(t)}, "pad": {strings.Repeat("x", 300<<10)}})
	wantStatus(t, "an oversized sign-out form", small, http.StatusRequestEntityTooLarge)
}
