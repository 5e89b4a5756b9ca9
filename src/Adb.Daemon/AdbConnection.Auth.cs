using Adb.Protocol;
using Microsoft.Extensions.Logging;

namespace Adb.Daemon;

internal sealed partial class AdbConnection
{
    // CNXN from the host: record version/maxdata, then challenge with AUTH(TOKEN). Debian's server sends
    // data_check = 0 on reconnect, so the checksum is never verified (reference §2.2, §8.2 item 3).
    private async Task OnConnectAsync(AdbPacketHeader h, ReadOnlyMemory<byte> data)
    {
        _version = AdbVersion.Negotiate(h.Arg0);
        MaxPayload = (int)Math.Min(Math.Max(h.Arg1, (uint)AdbVersion.MaxPayloadV1), (uint)AdbVersion.MaxPayload);
        HostBanner = AdbBanner.Parse(data.Span);
        _log.LogDebug("{Peer}: CNXN version 0x{Version:x8} maxdata {Max} banner {Banner}", Peer, h.Arg0, h.Arg1, HostBanner);
        if (State == ConnectionState.Online && Key is not null)
        {
            // A repeated CNXN on an authorized connection: answer it again.
            await SendConnectAsync().ConfigureAwait(false);
            return;
        }
        State = ConnectionState.Authorizing;
        await SendTokenAsync().ConfigureAwait(false);
    }

    private async Task SendTokenAsync()
    {
        _token = AdbKey.NewToken(); // exactly 20 bytes: other sizes crash Debian's server
        await SendAsync(AdbCommand.AUTH, (uint)AdbAuthType.Token, 0, _token).ConfigureAwait(false);
    }

    private async Task OnAuthAsync(AdbPacketHeader h, ReadOnlyMemory<byte> data)
    {
        if (State == ConnectionState.WaitingForConnect || State == ConnectionState.Online) return;
        switch ((AdbAuthType)h.Arg0)
        {
            case AdbAuthType.Signature:
                if (_token is null) return;
                var key = _daemon.FindSigner(_token, data.Span);
                if (key is not null)
                {
                    await GoOnlineAsync(key, "signature").ConfigureAwait(false);
                    return;
                }
                if (++_authFailures > 256) await Task.Delay(1000, _cts.Token).ConfigureAwait(false);
                await SendTokenAsync().ConfigureAwait(false);
                return;
            case AdbAuthType.RsaPublicKey:
                byte[] blob;
                string comment;
                try { blob = AndroidPublicKey.ParseAuthPayload(data.Span, out comment); }
                catch (AdbProtocolException ex)
                {
                    _log.LogWarning("{Peer}: bad RSAPUBLICKEY: {Message}", Peer, ex.Message);
                    return;
                }
                string fp = AndroidPublicKey.Fingerprint(blob);
                PendingKey = blob;
                State = ConnectionState.Pending;
                if (_daemon.IsAuthorized(fp))
                    _log.LogWarning("{Peer}: key {Fingerprint} ({Comment}) is authorized but the host could not sign with it; not accepted without a signature", Peer, fp, comment);
                else if (_daemon.AddPending(blob, comment))
                    _log.LogWarning("{Peer}: new key {Fingerprint} ({Comment}) is pending; approve with: adbd keys approve {Fingerprint} --keys {Keys}",
                        Peer, fp, comment, fp, _daemon.Store.KeysPath);
                else
                    _log.LogInformation("{Peer}: key {Fingerprint} ({Comment}) is waiting for approval", Peer, fp, comment);
                return;
            default:
                _log.LogDebug("{Peer}: ignoring AUTH type {Type}", Peer, h.Arg0);
                return;
        }
    }

    /// <summary>Called by the daemon when a pending key of this connection was approved.</summary>
    public async Task ApproveAsync(AuthorizedKey key)
    {
        if (State != ConnectionState.Pending) return;
        await GoOnlineAsync(key, "operator approval").ConfigureAwait(false);
    }

    /// <summary>Updates the capabilities of the key in use after a keys-file reload.</summary>
    public void UpdateKey(AuthorizedKey key) => Key = key;

    private async Task GoOnlineAsync(AuthorizedKey key, string how)
    {
        Key = key;
        PendingKey = null;
        State = ConnectionState.Online;
        _log.LogInformation("{Peer}: authorized key {Fingerprint} ({Comment}) by {How}; capabilities {Caps}", Peer, key.Fingerprint, key.Comment, how, key.Capabilities);
        await SendConnectAsync().ConfigureAwait(false);
    }

    private Task SendConnectAsync() =>
        SendAsync(AdbCommand.CNXN, AdbVersion.Current, AdbVersion.MaxPayload, _daemon.Banner.ToPayload()).AsTask();
}
