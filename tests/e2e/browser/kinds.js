// Every kind of message in a real browser: Debian's Chromium, driven by playwright-core, against
// the real daemon with a simulator device. It records a voice note from Chromium's fake
// microphone and sends it (a player with its length, loaded with the access token), sends a
// place (its coordinates from the page's geolocation) and a poll; Alice votes on the poll
// through the simulated world and the count moves live, then our own click votes; a text of
// ours is edited in place, Alice edits one of hers, and a message is forwarded to Bob's chat,
// where it shows marked forwarded; Alice sends a place and a contact card, shown as such; a
// video picked with the file picker plays in its bubble from the daemon; Bob writes from his
// linked id, and once it is revealed his two chats show as one; the chat search finds
// Alice's edited message by its new words. The
// conversation with all of these is audited with axe-core, and every page is watched as in
// dashboard.js (a console error, an uncaught exception or a request that leaves the daemon
// fails the scenario). Screenshot: kinds.png.
//
// E2E_DEVICE is a linked simulator device whose contacts E2E_ALICE and E2E_BOB echo what they
// are sent; E2E_BOB_LID is Bob's linked id.

const { chromium } = require("playwright-core");
const { main, env, fail, rest } = require("../lib");
const { BASE, KEY, LAUNCH, screenshot, byTestId, until, signInToChat, PageWatch } = require("./support");

const pages = new PageWatch();

const DEVICE = env("E2E_DEVICE");
const ALICE = env("E2E_ALICE");
const BOB = env("E2E_BOB");
const BOB_LID = env("E2E_BOB_LID");

const api = rest(BASE, KEY);
const run = Date.now().toString(36);

// Chromium's own stand-ins for a microphone (a beep) and for the question asking to use it.
const WITH_FAKE_MICROPHONE = {
  ...LAUNCH,
  args: [...LAUNCH.args, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
};
const HERE = { latitude: 52.3731, longitude: 4.8926 };

/** The stored (not pending) messages of the open chat going `direction` that contain `testId`. */
function withKind(page, direction, testId) {
  return page
    .locator(`${byTestId("message", { direction })}[data-message-id^="msg_"]`)
    .filter({ has: page.getByTestId(testId) });
}

/** The stored messages of the open chat whose text is `text`. */
function withText(page, text, direction) {
  return page
    .locator(`${byTestId("message", { direction })}[data-message-id^="msg_"]`)
    .filter({ has: page.getByTestId("message-text").getByText(text, { exact: true }) });
}

async function act(body) {
  return api.expect(200, "POST", `/api/v1/devices/${DEVICE}/simulator/act`, body);
}

async function stored(id) {
  return api.expect(200, "GET", `/api/v1/devices/${DEVICE}/messages/${id}`);
}

/** Waits until the message has left for the upstream (so the simulated world knows it). */
async function relayed(message) {
  await until(async () => ["server", "device", "read", "played"].includes(await message.getAttribute("data-ack")), "the message is relayed");
}

main(async () => {
  const browser = await chromium.launch(WITH_FAKE_MICROPHONE);
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 1100 },
      permissions: ["microphone", "geolocation"],
      geolocation: HERE,
    });
    const page = pages.watch(await context.newPage(), "kinds");
    await signInToChat(page, DEVICE, ALICE);

    // A voice note: recorded from the fake microphone, uploaded, sent as `voice`, and played
    // from the daemon with the access token, its length shown.
    const record = page.getByTestId("composer-voice");
    await until(async () => (await record.isEnabled()) || (await record.getAttribute("title")), "the recorder can record");
    await record.click();
    const recording = page.getByTestId("composer-recording");
    await recording.waitFor();
    await recording.getByText("0:01").waitFor();
    await page.locator(byTestId("composer-voice", { recording: "true" })).click();
    await recording.waitFor({ state: "detached" });
    const voice = withKind(page, "out", "message-voice").first();
    await voice.waitFor();
    const voiceId = await voice.getAttribute("data-message-id");
    const player = voice.getByTestId("message-voice").locator("audio");
    const src = await player.evaluate((audio) => audio.src);
    if (!src.startsWith(`${BASE}/api/v1/devices/`) || !src.includes("access_token=")) {
      fail(`the voice note plays from ${src}, not the daemon's media URL with an access token`);
    }
    await until(() => player.evaluate((audio) => audio.readyState >= 1 || `readyState ${audio.readyState}`), "the voice note loads");
    await until(
      async () => /^\d+:\d\d$/.test(await voice.locator(".voice-length").innerText()) || voice.locator(".voice-length").innerText(),
      "the voice note shows its length",
    );
    const voiceStored = await stored(voiceId);
    if (voiceStored.type !== "voice" || !voiceStored.media?.mime.startsWith("audio/")) {
      fail(`the recording was not stored as a voice note: ${JSON.stringify(voiceStored)}`);
    }

    // A place: the form takes this browser's position, and a name.
    await page.getByTestId("composer-location").click();
    await page.getByTestId("location-form-here").click();
    await until(
      async () => (await page.getByTestId("location-form-latitude").inputValue()) === String(HERE.latitude) || page.getByTestId("location-form-latitude").inputValue(),
      "the location form takes the browser's position",
    );
    const place = `Dam ${run}`;
    await page.getByTestId("location-form-name").fill(place);
    await page.getByTestId("location-form-send").click();
    const sentPlace = withKind(page, "out", "message-location").filter({ hasText: place });
    await sentPlace.waitFor();
    await sentPlace.getByText("52.3731, 4.8926").waitFor();
    const map = sentPlace.getByTestId("location-map");
    const [href, target, rel] = [await map.getAttribute("href"), await map.getAttribute("target"), await map.getAttribute("rel")];
    if (!href.startsWith("https://www.openstreetmap.org/?mlat=52.3731&mlon=4.8926") || target !== "_blank" || rel !== "noopener noreferrer") {
      fail(`the map link is ${href} (target ${target}, rel ${rel})`);
    }

    // A poll of one answer: Alice votes through the simulated world and the count moves live;
    // our click picks another, marked ours.
    const question = `Lunch ${run}?`;
    await page.getByTestId("composer-poll").click();
    await page.getByTestId("poll-form-question").fill(question);
    await page.getByTestId("poll-form-option").nth(0).fill("Pizza");
    await page.getByTestId("poll-form-option").nth(1).fill("Sushi");
    await page.getByTestId("poll-form-add-option").click();
    await page.getByTestId("poll-form-option").nth(2).fill("Salad");
    await page.getByTestId("poll-form-send").click();
    const poll = withKind(page, "out", "message-poll").filter({ hasText: question });
    await poll.waitFor();
    await relayed(poll);
    const pollId = await poll.getAttribute("data-message-id");
    const option = (name, attributes = {}) => poll.locator(byTestId("poll-option", { option: name, ...attributes }));
    await act({ do: "vote", from: ALICE, messageId: pollId, options: ["Sushi"] });
    await option("Sushi", { votes: 1, mine: "false" }).waitFor();
    await option("Pizza").click();
    await option("Pizza", { votes: 1, mine: "true" }).waitFor();
    await option("Sushi", { votes: 1 }).waitFor();
    await until(async () => {
      const tally = (await stored(pollId)).poll.votes.map((v) => `${v.option}:${v.voters.length}`).join(" ");
      return tally === "Pizza:1 Sushi:1 Salad:0" || tally;
    }, "the server counts our vote");

    // Our text edited in place: the new text, marked edited.
    const typo = `helo ${run}`;
    await page.getByTestId("composer-input").fill(typo);
    await page.getByTestId("composer-send").click();
    const ours = withText(page, typo, "out");
    await ours.waitFor();
    const oursId = await ours.getAttribute("data-message-id");
    const edited = page.locator(byTestId("message", { "message-id": oursId }));
    await edited.getByTestId("message-menu").click();
    await edited.getByTestId("message-edit").click();
    const fixed = `hello ${run}`;
    await edited.getByTestId("message-edit-input").fill(fixed);
    await edited.getByTestId("message-edit-save").click();
    await edited.getByTestId("message-text").getByText(fixed, { exact: true }).waitFor();
    await edited.getByTestId("message-edited").waitFor();
    if ((await stored(oursId)).body !== fixed) fail("the edit was not stored");

    // Alice edits one of hers: the conversation follows live.
    const hers = await act({ do: "message", from: ALICE, text: `see you at 5 ${run}` });
    await withText(page, `see you at 5 ${run}`, "in").waitFor();
    await act({ do: "edit", from: ALICE, messageId: hers.upstreamId, text: `see you at 6 ${run}` });
    const hersEdited = withText(page, `see you at 6 ${run}`, "in");
    await hersEdited.waitFor();
    await hersEdited.getByTestId("message-edited").waitFor();

    // Alice sends a place and a contact card.
    const theirPlace = `Vondelpark ${run}`;
    await act({
      do: "message",
      from: ALICE,
      location: { latitude: 52.358, longitude: 4.8686, name: theirPlace, address: "Amsterdam" },
    });
    const receivedPlace = withKind(page, "in", "message-location").filter({ hasText: theirPlace });
    await receivedPlace.waitFor();
    await receivedPlace.getByText("Amsterdam").waitFor();
    await receivedPlace.getByText("52.358, 4.8686").waitFor();
    const card = `Carol ${run}`;
    await act({ do: "message", from: ALICE, contacts: [{ name: card, phones: ["+1 555 0100"] }] });
    const receivedCard = withKind(page, "in", "message-contact").filter({ hasText: card });
    await receivedCard.waitFor();
    await receivedCard.getByText("+1 555 0100").waitFor();

    // A video picked with the file picker is sent as one, and plays in the bubble from the
    // daemon with the access token.
    const clip = `clip-${run}.mp4`;
    await page.getByTestId("composer-attach").setInputFiles({ name: clip, mimeType: "video/mp4", buffer: Buffer.alloc(2048) });
    await page.getByTestId("upload-send").click();
    const video = withKind(page, "out", "message-video").filter({ has: page.locator(`video[aria-label="${clip}"]`) });
    await video.waitFor();
    const videoSrc = await video.locator("video").evaluate((el) => el.src);
    if (!videoSrc.startsWith(`${BASE}/api/v1/devices/`) || !videoSrc.includes("access_token=")) {
      fail(`the video plays from ${videoSrc}`);
    }
    if ((await stored(await video.getAttribute("data-message-id"))).type !== "video") fail("the video was not stored as one");

    await screenshot(page, "kinds");
    await pages.audit(page, "a chat with a voice note, places, a poll, a contact card and an edit");

    // A message that arrives while a menu is open at the foot of the chat does not move the
    // menu from under the pointer; once the menu is closed, the chat follows to the new one.
    const messages = page.getByRole("log", { name: "Messages" });
    const atFoot = async () => {
      const [height, top, box] = await messages.evaluate((el) => [el.scrollHeight, el.scrollTop, el.clientHeight]);
      return height - top - box < 2 || `not at the foot: ${height - top - box}px above it (scrollHeight ${height}, scrollTop ${top}, clientHeight ${box})`;
    };
    await until(atFoot, "the chat is at its foot with the video before its menu opens");
    await video.getByTestId("message-menu").click();
    const videoForward = video.getByTestId("message-forward");
    // Once the menu has settled (it scrolls itself into view as it opens).
    await videoForward.click({ trial: true });
    const before = await videoForward.boundingBox();
    const arriving = `while the menu is open ${run}`;
    await act({ do: "message", from: ALICE, text: arriving });
    await withText(page, arriving, "in").waitFor({ state: "attached" });
    const after = await videoForward.boundingBox();
    if (after?.y !== before.y) fail(`the open menu moved from ${before.y} to ${after?.y} as a message arrived`);
    await page.keyboard.press("Escape");
    await videoForward.waitFor({ state: "detached" });
    await until(atFoot, "the chat follows to the message that arrived once the menu is closed");
    const received = withText(page, arriving, "in");
    await received.waitFor();

    // A scroll of the reader's own closes an open menu, as in a chat app.
    await received.getByTestId("message-menu").click();
    const receivedForward = received.getByTestId("message-forward");
    await receivedForward.waitFor();
    const list = await messages.boundingBox();
    await page.mouse.move(list.x + list.width / 2, list.y + list.height / 2);
    await page.mouse.wheel(0, 100);
    await receivedForward.waitFor({ state: "detached" });

    // The reader scrolls up to read: a message that arrives then leaves the chat where the
    // reader is; back at the foot, the chat follows again.
    const scrolledTo = () => messages.evaluate((el) => el.scrollTop);
    await until(atFoot, "the chat is at its foot before the reader scrolls up");
    await page.mouse.wheel(0, -300);
    await until(async () => (await atFoot()) !== true || "at the foot", "the reader has scrolled up");
    const reading = await scrolledTo();
    const whileReading = `while the reader reads up ${run}`;
    await act({ do: "message", from: ALICE, text: whileReading });
    // Shown in the chat list, and two frames later in the chat, unseen below the reader.
    await page.locator(byTestId("chat-row", { "chat-id": ALICE })).filter({ hasText: whileReading }).waitFor();
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    if ((await scrolledTo()) !== reading) fail(`the chat moved from ${reading} to ${await scrolledTo()} while the reader read up`);
    await page.mouse.wheel(0, 5000);
    await until(atFoot, "the chat is at its foot once the reader scrolled back down");
    const afterReading = `after the reader came back ${run}`;
    await act({ do: "message", from: ALICE, text: afterReading });
    await withText(page, afterReading, "in").waitFor();
    await until(atFoot, "the chat follows again once the reader is back at its foot");

    // That message forwarded to Bob: the copy shows in his chat, ours, marked forwarded.
    await received.getByTestId("message-menu").click();
    await received.getByTestId("message-forward").click();
    await page.getByTestId("forward-picker").waitFor();
    await pages.audit(page, "the chat picker of a forward");
    await page.locator(byTestId("forward-chat", { "chat-id": BOB })).click();
    await page.getByTestId("forward-picker").waitFor({ state: "detached" });
    await page.locator(byTestId("chat-row", { "chat-id": BOB })).click();
    const forwarded = withText(page, arriving, "out");
    await forwarded.waitFor();
    await forwarded.getByTestId("message-forwarded").waitFor();
    const copy = await stored(await forwarded.getAttribute("data-message-id"));
    if (!copy.forwarded || copy.chatId !== BOB) fail(`the forwarded copy is ${JSON.stringify(copy)}`);

    // One person, one chat: Bob writes from his linked id, which opens a chat of its own
    // until WhatsApp tells whose it is; then the list shows Bob once, and his open chat has
    // the message.
    const fromLid = `from my linked id ${run}`;
    await act({ do: "message", from: BOB, text: fromLid, asLid: true });
    const lidRow = page.locator(byTestId("chat-row", { "chat-id": BOB_LID }));
    await lidRow.waitFor();
    await act({ do: "reveal_lid", contact: BOB });
    await lidRow.waitFor({ state: "detached" });
    await withText(page, fromLid, "in").waitFor();
    if ((await page.locator(byTestId("chat-row", { "chat-id": BOB })).count()) !== 1) fail("Bob is not one chat");

    // The chat search finds messages by their words, not only chats by name: Alice's edited
    // text, by its new words, opens her chat.
    await page.getByTestId("chat-search").fill(`see you at 6 ${run}`);
    const result = page.getByTestId("message-result");
    await result.first().waitFor();
    await pages.audit(page, "messages found by the chat search");
    if ((await result.count()) !== 1) fail(`the search found ${await result.count()} messages, not Alice's one`);
    if ((await result.getAttribute("data-chat-id")) !== ALICE) fail("the message found is not Alice's");
    await result.click();
    await until(async () => page.url().endsWith(ALICE), "Alice's chat opens from the search");
    await page.getByTestId("chat-search").fill("");
    await page.getByTestId("message-results").waitFor({ state: "detached" });

    pages.check();
  } finally {
    await browser.close();
  }
});
