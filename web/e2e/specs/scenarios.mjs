// Needs issue 18: a dealership admin builds a scenario by chatting with the builder (one question
// at a time, what it gathered beside the chat), reviews the draft and saves it; a salesperson
// practises it by text, ends, and sees the version 2 scorecard (criteria, facts uncovered,
// pass/fail); on the review page an evidence quote scrolls to and highlights the quoted message.
import { assert, eventually, login, navLink, visible } from "../lib.mjs";
import { ask } from "./chat.mjs";

const TITLE = "Maria's RAV4 payment";
// One answer per stage, in the builder's words (server/training/builder/stages.py).
const ANSWERS = {
  customer: "Maria Lopez, 34, first-time buyer",
  vehicle: "A 2024 Toyota RAV4. She wants to keep the payment under $450 a month.",
  objections: "monthly payment",
  difficulty: "medium, friendly",
  hidden_facts: "She pays $389 a month on her Civic.",
  goal: "Find out her current monthly payment and agree a next step. Use the needs analysis rubric, pass mark 50.",
  review: "looks good",
};

const PASTED = [
  "Salesperson: Hi, welcome in! What brings you in today?",
  "Customer: I'm Dana Reyes. I'm looking at a used Honda CR-V.",
  "Salesperson: What budget do you have in mind?",
  "Customer: I'd like to stay under $400 a month.",
].join("\n");

async function buildScenario(admin, screenshot) {
  await admin.goto("/dashboard");
  await navLink(admin, "Scenarios").click();
  await admin.getByRole("link", { name: "Build with the assistant", exact: true }).click();
  // A builder session left over from another run would be resumed: start from the beginning.
  const startOver = admin.getByRole("button", { name: "Start over", exact: true });
  await visible(admin.getByRole("button", { name: "Start the conversation", exact: true }).or(startOver));
  if (await startOver.isVisible()) await startOver.click();
  // From a pasted conversation: the builder drafts what it can and asks for the rest.
  await admin.getByLabel("Paste a transcript of a customer conversation").fill(PASTED);
  await admin.getByRole("button", { name: "Draft from the transcript", exact: true }).click();
  await visible(admin.getByTestId("collected").locator('[data-field="vehicle"]').getByText(/CR-V/));
  await visible(admin.getByTestId("builder-log").locator('li[data-role="builder"]').getByText(/drafted what I could/));
  await screenshot(admin, "builder-from-transcript");
  await admin.getByRole("button", { name: "Start over", exact: true }).click();

  await admin.getByRole("button", { name: "Start the conversation", exact: true }).click();

  const builder = admin.locator(".builder");
  const log = admin.getByTestId("builder-log");
  await visible(log.locator('li[data-role="builder"]'));
  const asked = {};
  for (let turn = 0; turn < 12 && (await builder.getAttribute("data-done")) !== "true"; turn++) {
    const stage = await builder.getAttribute("data-stage");
    asked[stage] = (asked[stage] ?? 0) + 1;
    const question = await log.locator('li[data-role="builder"]').last().textContent();
    assert.ok(ANSWERS[stage] && asked[stage] <= 2, `the builder asked at stage ${stage} (${asked[stage]}x): ${question}`);
    const lines = await log.locator("li").count();
    await admin.getByLabel("Your answer").fill(ANSWERS[stage]);
    await admin.getByRole("button", { name: "Answer", exact: true }).click();
    // The answer and the next question are both in the chat, and nothing is pending.
    await eventually(async () => (await log.locator("li:not([data-pending])").count()) >= lines + 2, {
      message: `the builder's reply at stage ${stage}`,
    });
    if (stage === "customer") {
      // What it gathered shows beside the chat; leaving and coming back resumes the conversation.
      await visible(admin.getByTestId("collected").getByText("Maria Lopez", { exact: true }));
      await admin.goto("/dashboard");
      await admin.goto("/scenarios/builder");
      await visible(log.locator('li[data-role="admin"]').getByText(ANSWERS.customer, { exact: true }));
      await visible(admin.getByTestId("collected").getByText("Maria Lopez", { exact: true }));
    }
  }
  assert.equal(await builder.getAttribute("data-done"), "true", "the builder reached the end");
  await screenshot(admin, "builder-chat");

  await admin.getByRole("button", { name: "Review the draft", exact: true }).click();
  const review = admin.getByRole("form", { name: "Review the draft" });
  await visible(review);
  assert.equal(await review.getByRole("textbox", { name: "Customer name", exact: true }).inputValue(), "Maria Lopez");
  assert.ok(await review.getByRole("checkbox", { name: "Monthly payment" }).isChecked(), "the draft keeps the objection");
  const fact = review.getByRole("listitem", { name: "Fact 1" });
  assert.match(await fact.getByRole("textbox", { name: "What the customer says" }).inputValue(), /\$389/);
  await review.getByRole("textbox", { name: "Title", exact: true }).fill(TITLE);
  await review.getByRole("spinbutton", { name: "Time limit in minutes (optional)", exact: true }).fill("5");
  await screenshot(admin, "builder-review");
  await review.getByRole("button", { name: "Save scenario", exact: true }).click();

  await admin.waitForURL("**/scenarios");
  const card = admin.locator("li[data-scenario-id]").filter({ has: admin.getByRole("heading", { name: TITLE, exact: true }) });
  await visible(card);
  await visible(card.getByText("Monthly payment", { exact: false }));
  await screenshot(admin, "scenarios");
}

/**
 * A salesperson practises the scenario called `title` by text (it is listed with `details`: its
 * difficulty and objections), ends, and checks the version 2 scorecard and an evidence link.
 */
export async function practiseAndReview(page, screenshot, { title, details, lines, timed = false }) {
  await page.goto("/practise");
  await page.getByLabel("Practise a scenario").check();
  const choice = page.getByRole("radio", { name: title, exact: true });
  await visible(page.getByTestId("scenario-choices").locator("li").filter({ has: choice }).getByText(details, { exact: true }));
  await choice.check();
  await page.getByLabel("Type").check();
  await page.getByRole("button", { name: "Start session" }).click();
  await visible(page.getByRole("heading", { name: `Scenario: ${title}` }));
  for (const line of lines) await ask(page, line);
  if (timed) {
    // The scenario's time limit counts down from the first message.
    const timer = page.getByRole("timer", { name: "Time left" });
    await visible(timer);
    assert.match(await timer.textContent(), /^\d+:\d\d left$/);
  }
  await page.getByRole("button", { name: "End session" }).click();

  const card = page.getByTestId("scorecard");
  await visible(card);
  assert.equal(await card.getAttribute("data-version"), "2", "a scenario session gets the version 2 scorecard");
  await visible(card.locator("li[data-criterion]"));
  await visible(card.getByTestId("verdict"));
  const payment = card.getByTestId("facts").locator("li[data-fact]").first();
  await visible(payment);
  assert.equal(await payment.getAttribute("data-uncovered"), "true", `the asked-for fact is uncovered: ${await payment.textContent()}`);
  await visible(payment.getByText(/Uncovered/));
  await screenshot(page, "scorecard-v2");

  // On the review page, an evidence quote scrolls to the trainee's message and marks the words.
  await page.getByRole("link", { name: "Review the session" }).click();
  await visible(page.getByTestId("review-transcript").locator("li"));
  const evidence = page.getByTestId("scorecard").locator(".evidence a").first();
  await visible(evidence);
  const messageId = await evidence.getAttribute("data-message-id");
  const quote = ((await evidence.textContent()) ?? "").replace(/^“|”$/g, "");
  await evidence.click();
  const target = page.locator(`li[data-message-id="${messageId}"]`);
  await eventually(async () => (await target.getAttribute("data-highlighted")) === "true", { message: "the quoted message highlighted" });
  assert.equal(await page.locator('li[data-highlighted="true"]').count(), 1, "only the quoted message is highlighted");
  assert.equal(await target.getAttribute("data-role"), "user", "evidence quotes the trainee's own words");
  assert.equal((await target.locator("mark").textContent())?.toLowerCase(), quote.toLowerCase());
  await eventually(async () => target.evaluate((el) => {
    const box = el.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
  }), { message: "the quoted message scrolled into view" });
  await screenshot(page, "evidence-highlighted");
}

export default async function ({ data, newPage, screenshot }) {
  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await buildScenario(admin, screenshot);

  // The salesperson sees it among the scenarios, with its difficulty and objections, and practises it.
  const page = await newPage();
  await login(page, data.accounts.user);
  await practiseAndReview(page, screenshot, {
    title: TITLE,
    details: "Medium · Monthly payment · 5 min",
    timed: true,
    lines: [
      "Hi Maria, welcome in! I'm Alex. What brings you in today?",
      "What do you pay a month right now on your current car?",
      "I hear you, the payment matters. What monthly figure would feel comfortable for you?",
      "If we can get the RAV4 close to that, could we set up a test drive today?",
    ],
  });
}
