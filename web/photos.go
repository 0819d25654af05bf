package web

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"

	"github.com/roundtriphq/roundtrip/returns"
)

// Photo evidence: the items form takes up to returns.MaxPhotos photos for lines
// returned for a merchant-fault reason; they are re-encoded (no metadata kept) and
// stored with the form's key until the return is created, which attaches them.
// Staff see them in the review queue and at the scan station through photoURL.

// maxUpload bounds the body of the portal's forms that carry photos: every photo
// at its largest, and the form around them.
const maxUpload = returns.MaxPhotos*returns.MaxPhotoBytes + 1<<20

// bodyLimits are the routes whose bodies may be larger than maxForm.
var bodyLimits = map[string]int64{
	"POST /portal/{merchant}/quote":   maxUpload,
	"POST /portal/{merchant}/returns": maxUpload,
}

// photoURL is where staff open a return's photo.
func photoURL(returnID, photoID string) string {
	return "/staff/returns/" + url.PathEscape(returnID) + "/photos/" + url.PathEscape(photoID)
}

// keepPhotos stores the photos of the chosen lines, or puts on v what is wrong with
// them (and stores none).
func (s *Server) keepPhotos(rq *request, o returns.OrderRecord, v *itemsView, chosen []choice) error {
	ctx, l := rq.ctx(), s.langOf(rq)
	pending, err := s.returns.PendingPhotos(ctx, rq.merchant.ID, o.ID, v.Key)
	if err != nil {
		return err
	}
	byLine := map[string]int{}
	for _, p := range pending {
		byLine[p.LineID]++
	}
	picked := map[int]choice{}
	for _, c := range chosen {
		picked[c.N] = c
	}
	var add []returns.Photo
	for i := range v.Lines {
		lv := &v.Lines[i]
		var files []*multipart.FileHeader
		if rq.MultipartForm != nil {
			files = rq.MultipartForm.File["photos."+strconv.Itoa(lv.N)]
		}
		lv.Photos = byLine[lv.ID]
		if len(files) == 0 {
			continue
		}
		c, ok := picked[lv.N]
		reason, _ := returns.LookupReason(returns.ReasonCode(c.Reason))
		if !ok || !reason.MerchantFault {
			lv.Err = l.T("ph-only-fault")
		}
		for _, f := range files {
			if lv.Err != "" {
				break
			}
			if f.Size > returns.MaxPhotoBytes {
				lv.Err = l.T("ph-big", "Name", f.Filename)
				break
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(io.LimitReader(rc, returns.MaxPhotoBytes+1))
			rc.Close()
			if err != nil {
				return err
			}
			p, err := returns.PreparePhoto(lv.ID, b)
			switch {
			case errors.Is(err, returns.ErrPhotoHEIC):
				lv.Err = l.T("ph-heic", "Name", f.Filename)
			case errors.Is(err, returns.ErrPhotoTooLarge):
				lv.Err = l.T("ph-big", "Name", f.Filename)
			case errors.Is(err, returns.ErrPhotoFormat):
				lv.Err = l.T("ph-format", "Name", f.Filename)
			case err != nil:
				return err
			default:
				add = append(add, p)
			}
		}
		if lv.Err != "" {
			v.Errors = append(v.Errors, lv.Name+": "+lv.Err)
		}
	}
	if len(v.Errors) > 0 || len(add) == 0 {
		return nil
	}
	err = s.returns.AddPhotos(ctx, rq.merchant.ID, o.ID, v.Key, add)
	if errors.Is(err, returns.ErrTooManyPhotos) || (err == nil && len(pending)+len(add) > returns.MaxPhotos) {
		v.Errors = append(v.Errors, l.T("ph-too-many", "Count", returns.MaxPhotos, "Kept", len(pending)))
		return nil
	}
	if err != nil {
		return err
	}
	for i := range v.Lines {
		for _, p := range add {
			if p.LineID == v.Lines[i].ID {
				v.Lines[i].Photos++
			}
		}
	}
	return nil
}

// staffPhoto serves a return's photo to staff of its shop.
func (s *Server) staffPhoto(rq *request) error {
	notFound := &pageError{Status: http.StatusNotFound, Title: "No such photo", Message: "This return has no photo with that ID."}
	p, err := s.returns.ReturnPhoto(rq.ctx(), rq.merchant.ID, rq.PathValue("id"), rq.PathValue("photo"))
	if errors.Is(err, returns.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("Content-Type", p.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(p.Data)))
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	rq.w.Write(p.Data)
	return nil
}
