// Webhooks (admins): register an endpoint and see its secret once, send a test event and find it
// in the delivery log, switch the endpoint off. (The test server sends no webhooks: the event waits.)
import { assert, eventually, login, navLink, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.admin);
  await navLink(page, "Webhooks").click();
  await visible(page.getByRole("heading", { level: 1, name: "Webhooks", exact: true }));
  await page.getByLabel("URL", { exact: true }).fill("https://93.184.216.34/sparring-events");
  await page.getByRole("checkbox", { name: /document\.ready/ }).check();
  await page.getByRole("button", { name: "Add endpoint", exact: true }).click();
  const shown = await visible(page.getByTestId("webhook-secret"));
  assert.match((await shown.locator("pre").textContent()).trim(), /^whsec_[A-Za-z0-9+/]{40,}={0,2}$/);
  await page.getByRole("button", { name: "I have saved it", exact: true }).click();

  const card = () => page.getByTestId("webhooks").getByRole("listitem").filter({ hasText: "https://93.184.216.34/sparring-events" });
  await visible(card().getByText("document.ready, scorecard.ready, session.completed"));
  await card().getByRole("button", { name: "Send test event", exact: true }).click();
  await visible(card().getByText("A test event is on its way."));
  await card().getByRole("button", { name: "Delivery log", exact: true }).click();
  const log = await visible(card().getByTestId("deliveries"));
  await visible(log.getByText("webhook.test", { exact: true }));
  await visible(log.getByText("Waiting to be sent", { exact: true }));
  await screenshot(page, "webhooks");

  await card().getByRole("button", { name: "Switch off", exact: true }).click();
  await visible(card().getByText("inactive", { exact: true }));
  await visible(card().getByRole("button", { name: "Switch on", exact: true }));
  assert.equal(await card().getByRole("button", { name: "Send test event", exact: true }).isDisabled(), true);

  // The secret was shown once: nowhere after a reload.
  await page.reload();
  await visible(card());
  await eventually(async () => (await page.getByText(/whsec_/).count()) === 0, { message: "no secret on the page" });
}
