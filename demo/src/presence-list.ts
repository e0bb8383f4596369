/**
 * "Here now": everyone whose awareness state is live in this room, this
 * browser first. Awareness is y-protocols' presence CRDT; a peer that closes
 * its tab removes its state, one that vanishes times out after 30 seconds.
 */
import type { Awareness } from 'y-protocols/awareness'

export interface PresentUser {
  readonly clientId: number
  readonly name: string
  readonly color: string
  readonly isSelf: boolean
}

function readUser(clientId: number, state: Record<string, unknown>, selfId: number): PresentUser | null {
  const user = state['user']
  if (typeof user !== 'object' || user === null) return null
  const { name, color } = user as { name?: unknown; color?: unknown }
  return {
    clientId,
    name: typeof name === 'string' && name.trim() !== '' ? name : 'Anonymous',
    color: typeof color === 'string' && /^#[0-9a-f]{6}$/i.test(color) ? color : '#868e96',
    isSelf: clientId === selfId
  }
}

/** Present users, self first, then by name so the list does not jump around. */
export function listPresentUsers(awareness: Awareness): PresentUser[] {
  const users: PresentUser[] = []
  awareness.getStates().forEach((state, clientId) => {
    const user = readUser(clientId, state, awareness.clientID)
    if (user) users.push(user)
  })
  return users.sort((a, b) => Number(b.isSelf) - Number(a.isSelf) || a.name.localeCompare(b.name) || a.clientId - b.clientId)
}

/** Renders the list into `list` and `count` now and on every awareness change. Returns a disposer. */
export function mountPresenceList(list: HTMLElement, count: HTMLElement, awareness: Awareness): () => void {
  const render = (): void => {
    const users = listPresentUsers(awareness)
    count.textContent = String(users.length)
    list.replaceChildren(
      ...users.map((user) => {
        const item = document.createElement('li')
        item.className = 'presence-user'
        item.dataset['testid'] = 'presence-user'
        const swatch = document.createElement('span')
        swatch.className = 'swatch'
        swatch.style.backgroundColor = user.color
        const name = document.createElement('span')
        name.className = 'presence-name'
        name.textContent = user.name
        item.append(swatch, name)
        if (user.isSelf) {
          const you = document.createElement('span')
          you.className = 'presence-you'
          you.textContent = 'you'
          item.append(you)
        }
        return item
      })
    )
  }
  awareness.on('change', render)
  render()
  return () => awareness.off('change', render)
}
