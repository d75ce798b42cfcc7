import type { Locator, Page } from "playwright-core";

/** The channel page as a person uses it, for the browser tests and the README screenshot. */
export type ChannelPage = {
  page: Page;
  /** Post as this person (by the name the switcher shows). */
  as(realName: string): Promise<void>;
  /** Types into the composer and presses Enter. */
  type(text: string): Promise<void>;
  /** The message of a rollout (`reviews-1`) in the channel. */
  rolloutMessage(id: string): Locator;
  /** A subset's weight on the reviews route in the traffic panel: "v2 50%". */
  weight(subset: string): Locator;
};

export async function openChannelPage(page: Page, url: string): Promise<ChannelPage> {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  return {
    page,
    as: async (realName) => {
      await page.selectOption("#user-switcher", { label: realName });
    },
    type: async (text) => {
      await page.fill("#composer-input", text);
      await page.press("#composer-input", "Enter");
    },
    rolloutMessage: (id) => page.locator(`#messages .message[data-rollout="${id}"]`),
    weight: (subset) => page.locator(`#vs-default-reviews .weight[data-subset="${subset}"]`),
  };
}
