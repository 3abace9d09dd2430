// The console in Firefox (Debian's firefox-esr, headless, driven by
// puppeteer-core over WebDriver BiDi): sign in, see the overview, create
// an account and read its hand-over page, sign out. Prints one JSON line:
// {"password": ..., "username": ..., "errors": [...]}.
//   node console_firefox.mjs ORIGIN TOKEN USERNAME [SCREENSHOT]
// (PUPPETEER_DIR: where puppeteer-core is installed)
import { createRequire } from "node:module";

const require = createRequire((process.env.PUPPETEER_DIR || process.cwd()) + "/");
const puppeteer = require("puppeteer-core");
const [origin, token, username, shot] = process.argv.slice(2);

const browser = await puppeteer.launch({
  browser: "firefox", executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true, acceptInsecureCerts: true,
});
const errors = [];
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401/.test(m.text())) errors.push(m.text());
  });
  await page.goto(origin + "/");
  await page.waitForSelector("#token");
  await page.type("#token", token);
  await page.click("#sign-in-button");
  await page.waitForSelector("#counts li");
  await page.waitForSelector("#attention li");
  await page.evaluate(() => { location.hash = "#/accounts/new"; });
  await page.waitForSelector("#new-username");
  await page.type("#new-username", username);
  await page.click("#create-account");
  await page.waitForSelector("[data-fact='Password']");
  const facts = await page.evaluate(() => ({
    password: document.querySelector("[data-fact='Password']").textContent,
    username: document.querySelector("[data-fact='User name']").textContent,
    recipient: document.querySelector("[data-fact='age recipient']").textContent,
  }));
  if (shot) await page.screenshot({ path: shot });
  await page.click("#sign-out");
  await page.waitForSelector("#sign-in");
  console.log(JSON.stringify({ ...facts, errors }));
} catch (e) {
  console.log(JSON.stringify({ failed: String(e), errors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
