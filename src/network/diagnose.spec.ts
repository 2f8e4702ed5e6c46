import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { describeDialFailure, dialTarget } from './diagnose.js'

const ID = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const OTHER = '12D3KooWKYpvsr47MBwVJaj3LEfoexb3xv7LfQz6155AMeV4EDas'
const addr = multiaddr(`/ip4/127.0.0.1/tcp/9090/ws/p2p/${ID}`)

describe('dialTarget', () => {
  it('finds host, port and the WebSocket URL of a relay address', () => {
    expect(dialTarget(addr)).toEqual({ host: '127.0.0.1', port: 9090, url: 'ws://127.0.0.1:9090' })
    expect(dialTarget(multiaddr(`/dns4/relay.example/tcp/443/wss/p2p/${ID}`))).toEqual({ host: 'relay.example', port: 443, url: 'wss://relay.example:443' })
    expect(dialTarget(multiaddr(`/ip6/::1/tcp/9090/ws/p2p/${ID}`))).toEqual({ host: '::1', port: 9090, url: 'ws://[::1]:9090' })
    expect(dialTarget(multiaddr(`/ip4/127.0.0.1/tcp/9090/p2p/${ID}`))).toEqual({ host: '127.0.0.1', port: 9090 })
  })
})

describe('describeDialFailure', () => {
  it('says how long it waited when the dial timed out', async () => {
    expect(await describeDialFailure(addr, new Error('aborted'), { timedOut: 20_000 })).toBe('no answer within 20000 ms (ws://127.0.0.1:9090)')
  })

  it('names the peer that answered instead of the one in the address', async () => {
    const err = Object.assign(new Error(`Payload identity key ${OTHER} does not match expected remote identity key ${ID}`), { name: 'EncryptionFailedError' })
    expect(await describeDialFailure(addr, err)).toBe(`a peer other than the one in the address answered on 127.0.0.1:9090: it is ${OTHER}, not ${ID} (a relay restarted without its saved key gets a new id)`)
  })

  it('tells a handshake that timed out from an unreachable relay', async () => {
    const err = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'EncryptionFailedError' })
    expect(await describeDialFailure(addr, err)).toBe('the connection to 127.0.0.1:9090 opened but the encryption handshake timed out (the relay or this machine may be overloaded)')
  })

  it('passes other errors on by name and message', async () => {
    expect(await describeDialFailure(addr, Object.assign(new Error('no valid addresses'), { name: 'NoValidAddressesError' }))).toBe('NoValidAddressesError: no valid addresses')
    expect(await describeDialFailure(addr, 'odd')).toBe('dial failed (odd)')
  })
})
