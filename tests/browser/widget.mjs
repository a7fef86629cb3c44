// Drives the web chat widget in Debian's Chromium against a running kopru server:
// open the demo page, chat, reload (the conversation must survive), tap a button.
// Usage: node widget.mjs BASE_URL SCREENSHOT_DIR   — exits non-zero on failure.
import { chromium } from "playwright-core";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node widget.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const step = (name) => console.log(`- ${name}`);
try {
  const context = await browser.newContext({ locale: "tr-TR", viewport: { width: 1000, height: 760 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  const botSaid = async (text, timeout = 15000) =>
    page.locator(".msg.bot", { hasText: text }).last().waitFor({ timeout });
  const say = async (text) => {
    await page.locator("textarea").fill(text);
    await page.locator("textarea").press("Enter");
  };

  step("open the demo page and the chat");
  await page.goto(`${base}/?tenant=demo-dental`);
  await page.locator(".launcher").click();
  await page.locator("textarea").waitFor();

  step("greeting");
  await say("Merhaba");
  await botSaid("Demo Diş Kliniği");

  step("business hours, typed without Turkish letters");
  await say("kaca kadar aciksiniz");
  await botSaid("09:00");

  step("reload: the conversation is still there");
  await page.reload();
  await page.locator(".launcher").click();
  await botSaid("09:00");
  const customer = await page.locator(".msg.customer").allInnerTexts();
  if (!customer.some((t) => t.includes("Merhaba")) || !customer.some((t) => t.includes("kaca kadar"))) {
    throw new Error(`history after reload: ${JSON.stringify(customer)}`);
  }

  step("not understood twice → the bot offers a human with buttons; tap one");
  await say("zxqv wplk");
  await page.locator(".msg.bot").nth(2).waitFor();
  await say("qqq zzz xxx");
  const chip = page.locator(".chips button", { hasText: "Temsilciye bağlan" });
  await chip.waitFor({ timeout: 15000 });
  await chip.click();
  await botSaid("temsilci");

  await page.screenshot({ path: `${shots}/widget.png` });
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log("widget: ok");
} catch (e) {
  console.error(`widget: FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
