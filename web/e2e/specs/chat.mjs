// Needs issues 3 and 4: a text chat in training mode shows a streamed answer with its source
// (the test uploaded "payment-objections.txt" for this dealership beforehand).
import { assert, eventually, login, visible } from "../lib.mjs";

export async function startTextTraining(page) {
  await page.goto("/practise");
  await page.getByLabel("Training with Adam").check();
  await page.getByLabel("Type").check();
  await page.getByRole("button", { name: "Start session" }).click();
  await visible(page.getByLabel("Your message"));
}

export async function ask(page, question) {
  // Record how the answer grows, to tell a streamed answer from one that arrives whole.
  await page.evaluate(() => {
    window.__growth = [];
    const list = document.querySelector('[data-testid="transcript"]');
    new MutationObserver(() => {
      const last = [...list.querySelectorAll('li[data-role="assistant"]')].at(-1);
      if (last) window.__growth.push(last.querySelector("p")?.textContent?.length ?? 0);
    }).observe(list, { subtree: true, childList: true, characterData: true });
  });
  await page.getByLabel("Your message").fill(question);
  await page.getByRole("button", { name: "Send" }).click();
  const answer = page.locator('li[data-role="assistant"]').last();
  await eventually(async () => (await answer.getAttribute("data-streaming")) === null && ((await answer.locator("p").first().textContent()) ?? "").length > 0, {
    timeout: 60000, message: "the answer to finish",
  });
  return answer;
}

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await startTextTraining(page);
  const answer = await ask(page, "The customer says the payment is too high. What do I say?");
  const growth = await page.evaluate(() => [...new Set(window.__growth.filter((n) => n > 0))]);
  assert.ok(growth.length >= 2, `the answer streamed in pieces (lengths seen: ${growth})`);
  await visible(answer.getByTestId("sources").getByText("payment-objections.txt"));
  await screenshot(page, "chat");
}
