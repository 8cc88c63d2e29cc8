// Package viewtest tests secaudit view in a real headless Chromium (chromedp); tests only.
package viewtest
