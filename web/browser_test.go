package web_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's chromium through chromedp: one browser for the
// whole test binary, started on first use, and one isolated browser context (its
// own cookies) per tab. Every page a test visits goes through tab.page, which checks
// what every page must satisfy: labelled form fields, no sideways scrolling on a
// phone, and, for the portal, the page weight. It takes a PNG screenshot at a desktop
// and at a phone viewport; they are written out when the test fails (or always with
// go test -artifacts).

const chromiumPath = "/usr/bin/chromium"

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// startBrowser starts the one chromium of the test binary.
func startBrowser() (context.Context, error) {
	browser.once.Do(func() {
		path := chromiumPath
		if _, err := os.Stat(path); err != nil {
			if path, err = exec.LookPath("chromium"); err != nil {
				browser.err = errors.New("no chromium at " + chromiumPath + ": install chromium (make test does this)")
				return
			}
		}
		dir, err := os.MkdirTemp("", "roundtrip-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		browser.dir = dir
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(desktopW, desktopH),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil {
			bcancel()
			acancel()
			browser.err = fmt.Errorf("start chromium (%s): %w; install chromium (make test does this)", path, err)
			return
		}
		browser.ctx, browser.cancel = bctx, func() { bcancel(); acancel() }
	})
	return browser.ctx, browser.err
}

const (
	desktopW, desktopH = 1280, 900
	phoneW, phoneH     = 390, 844
	// maxPortalPage is the most a portal page may weigh, HTML, CSS and JS together.
	maxPortalPage = 60 << 10
)

var tabs atomic.Int64

type shot struct {
	name string
	png  []byte
}

// tab is a browser tab with its own cookies.
type tab struct {
	t       *testing.T
	id      int64 // numbers the tabs of a test, for the screenshots' names
	ctx     context.Context
	base    string
	mu      sync.Mutex
	shots   []shot
	Weights map[string]int64
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	bctx, err := startBrowser()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil { // opens the tab; no timeout on this first run
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 5*time.Minute) // a stuck page fails the test instead of hanging it
	b := &tab{t: t, id: tabs.Add(1), ctx: tctx, base: base, Weights: map[string]int64{}}
	t.Cleanup(func() {
		b.saveShots()
		tcancel()
		cancel()
	})
	// every page is counted in full: nothing comes from the cache
	if _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.EmulateViewport(desktopW, desktopH))
	return b
}

// do runs actions, failing the test (with a screenshot) on error.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.snap("failure")
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.snap("failure")
		b.t.Fatalf("browser: evaluate %.80s: %v", expr, err)
	}
	return v
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

func (b *tab) waitVisible(css string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(css)))
}

func (b *tab) text(css string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.snap("failure")
		b.t.Fatalf("browser: text of %s: %v", css, err)
	}
	return s
}

// body is the text of the page.
func (b *tab) body() string { return eval[string](b, `document.body.innerText`) }

// status is the HTTP status of the page shown.
func (b *tab) status() int {
	return eval[int](b, `performance.getEntriesByType('navigation')[0].responseStatus`)
}

// path is the path and query of the page shown.
func (b *tab) path() string { return eval[string](b, `location.pathname + location.search`) }

// focused names the focused element by its id.
func (b *tab) focused() string {
	return eval[string](b, `document.activeElement ? document.activeElement.id : ''`)
}

func (b *tab) mustSee(parts ...string) {
	b.t.Helper()
	body := b.body()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			b.snap("failure")
			b.t.Errorf("the page %s lacks %q; it says:\n%.2000s", b.path(), p, body)
		}
	}
}

// weight sums what the page transferred: its document and every resource.
type weight struct {
	Total int64      `json:"total"`
	Items [][]string `json:"items"`
}

// page checks the page shown and records it under name: every form field has a
// label, a phone does not scroll sideways, and a portal page weighs less than
// maxPortalPage. It takes a screenshot at both viewports.
func (b *tab) page(name string, portal bool) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.readyState === 'complete'`)); err != nil {
		b.t.Fatalf("%s: the page did not finish loading: %v", name, err)
	}
	unlabelled := eval[[]string](b, `[...document.querySelectorAll('input, select, textarea')]
		.filter(e => e.type !== 'hidden')
		.filter(e => !((e.labels && e.labels.length > 0) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')))
		.map(e => e.outerHTML.slice(0, 120))`)
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: form fields without a label: %v", name, unlabelled)
	}
	if portal {
		w := eval[weight](b, `(() => {
			const n = performance.getEntriesByType('navigation')[0];
			const items = [[n.name, String(n.transferSize)]];
			let total = n.transferSize;
			for (const r of performance.getEntriesByType('resource')) { total += r.transferSize; items.push([r.name, String(r.transferSize)]); }
			return {total, items};
		})()`)
		b.mu.Lock()
		b.Weights[name] = w.Total
		b.mu.Unlock()
		if w.Total == 0 || w.Total > maxPortalPage {
			b.t.Errorf("%s: the page transferred %d bytes, want 1 to %d: %v", name, w.Total, maxPortalPage, w.Items)
		}
	}
	b.snap(name + "-desktop")
	b.do(chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile))
	type scroll struct {
		Width  int `json:"width"`
		Inner  int `json:"inner"`
		Client int `json:"client"`
	}
	sc := eval[scroll](b, `({width: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
		inner: window.innerWidth, client: document.documentElement.clientWidth})`)
	if sc.Width > sc.Inner || sc.Width > sc.Client || sc.Client > phoneW {
		b.t.Errorf("%s: on a %dx%d phone the page is %d px wide for a %d px window (%d px layout): it scrolls sideways",
			name, phoneW, phoneH, sc.Width, sc.Inner, sc.Client)
	}
	b.snap(name + "-phone")
	b.do(chromedp.EmulateViewport(desktopW, desktopH))
}

// snap takes a screenshot of the whole page, kept until the test ends.
func (b *tab) snap(name string) {
	if os.Getenv("NOSNAP") != "" {
		return
	}
	img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return // the screenshot is a help, not a check
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.shots = append(b.shots, shot{fmt.Sprintf("tab%d-%02d-%s.png", b.id, len(b.shots)+1, name), img})
}

// saveShots writes the screenshots when the test failed, or always with
// -artifacts (into the test's artifact directory).
func (b *tab) saveShots() {
	artifacts := false
	if f := flag.Lookup("test.artifacts"); f != nil {
		artifacts = f.Value.String() == "true"
	}
	if !b.t.Failed() && !artifacts {
		return
	}
	dir := b.t.ArtifactDir()
	if !artifacts {
		// the artifact directory is removed after the test without -artifacts
		var err error
		if dir, err = os.MkdirTemp("", "roundtrip-web-"+strings.NewReplacer("/", "-", " ", "_").Replace(b.t.Name())+"-"); err != nil {
			b.t.Logf("screenshots not saved: %v", err)
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.shots {
		if err := os.WriteFile(filepath.Join(dir, s.name), s.png, 0o644); err != nil {
			b.t.Logf("screenshot %s: %v", s.name, err)
		}
	}
	b.t.Logf("%d screenshots in %s", len(b.shots), dir)
}

// decodeQR reads the QR code of an element on screen with zbarimg.
func (b *tab) decodeQR(css string) string {
	b.t.Helper()
	if _, err := exec.LookPath("zbarimg"); err != nil {
		b.t.Fatal("no zbarimg: install zbar-tools (make test does this)")
	}
	img, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("screenshot of %s: %v", css, err)
	}
	f := filepath.Join(b.t.TempDir(), "qr.png")
	if err := os.WriteFile(f, img, 0o644); err != nil {
		b.t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", f).Output()
	if err != nil {
		b.t.Fatalf("zbarimg could not read the QR code of %s: %v", css, err)
	}
	return strings.TrimSpace(string(out))
}
