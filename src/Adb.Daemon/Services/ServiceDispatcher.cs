using System.Text;
using Adb.Daemon.Native;
using Adb.Protocol;
using Microsoft.Extensions.Logging;

namespace Adb.Daemon.Services;

/// <summary>
/// Routes an OPEN to its service (AOSP <c>daemon/services.cpp</c> <c>daemon_service_to_fd</c>), after checking the
/// key's capabilities, and writes one audit record per OPEN. A refused request gets a clear message in the
/// service's own reply format (shell stderr, sync FAIL, reverse FAIL, control text); unknown services and failed
/// forward connects get <c>CLSE(0, remote)</c>, which the client reports as "closed".
/// </summary>
internal sealed class ServiceDispatcher
{
    private readonly AdbDaemon _daemon;
    private readonly ILogger _log;

    public ServiceDispatcher(AdbDaemon daemon, ILogger log)
    {
        _daemon = daemon;
        _log = log;
    }

    public async Task OpenAsync(AdbConnection c, uint remoteId, string service)
    {
        try { await OpenCoreAsync(c, remoteId, service).ConfigureAwait(false); }
        catch (Exception ex)
        {
            _log.LogDebug("{Peer}: service '{Service}' ended: {Message}", c.Peer, service, ex.Message);
        }
    }

    private void Audit(AdbConnection c, string service, string result)
    {
        _daemon.Audit.Record(c.Peer, c.Fingerprint, service, result);
        _log.LogInformation("{Peer} key {Key}: OPEN \"{Service}\" -> {Result}", c.Peer, c.Fingerprint, service, result);
    }

    private async Task RefuseWithCloseAsync(AdbConnection c, uint remoteId, string service, string result)
    {
        Audit(c, service, result);
        await c.SendAsync(AdbCommand.CLSE, 0, remoteId, default).ConfigureAwait(false);
    }

    /// <summary>Accepts the stream (OKAY), runs <paramref name="body"/>, then closes it.</summary>
    private static async Task AcceptAndRunAsync(AdbConnection c, uint remoteId, string service, Func<AdbSocket, Task> body)
    {
        var s = c.CreateSocket(remoteId, service);
        await c.SendAsync(AdbCommand.OKAY, s.LocalId, remoteId, default).ConfigureAwait(false);
        s.Start();
        try { await body(s).ConfigureAwait(false); }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or OperationCanceledException) { }
        finally { await s.CloseAsync().ConfigureAwait(false); }
    }

    private static Task ReplyTextAsync(AdbConnection c, uint remoteId, string service, string text) =>
        AcceptAndRunAsync(c, remoteId, service, s => s.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask());

    private async Task OpenCoreAsync(AdbConnection c, uint remoteId, string service)
    {
        var caps = c.Key?.Capabilities ?? new Capabilities(false, false, [], false, false, false);
        string fp = c.Fingerprint;
        var identity = _daemon.IdentityFor(c);

        // shell:, shell,v2,...:, exec:
        if (ShellRequest.Parse(service) is { } shell)
        {
            if (!caps.Shell)
            {
                Audit(c, service, "refused (no shell capability)");
                await AcceptAndRunAsync(c, remoteId, service, s =>
                    ShellService.RefuseAsync(s, shell.V2, $"adbd: permission denied: key {fp} lacks the 'shell' capability")).ConfigureAwait(false);
                return;
            }
            Audit(c, service, $"ok (as {identity.Name})");
            var svc = new ShellService(shell, identity, _log);
            await AcceptAndRunAsync(c, remoteId, service, svc.RunAsync).ConfigureAwait(false);
            return;
        }

        if (service == "sync:" || service == "sync")
        {
            var roots = caps.SyncRead;
            if (!caps.Sync && roots.Count == 0) Audit(c, service, "refused (no sync capability)");
            else Audit(c, service, caps.Sync ? $"ok (as {identity.Name})" : $"ok (read-only: {string.Join(",", roots)})");
            var svc = new SyncService(new SyncPolicy(caps.Sync, roots, identity, fp), _log);
            await AcceptAndRunAsync(c, remoteId, service, svc.RunAsync).ConfigureAwait(false);
            return;
        }

        if (ForwardService.IsForward(service))
        {
            if (!caps.Forward) { await RefuseWithCloseAsync(c, remoteId, service, "refused (no forward capability)").ConfigureAwait(false); return; }
            System.Net.Sockets.Socket target;
            try { target = await ForwardService.ConnectAsync(service, identity).ConfigureAwait(false); }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or FormatException or IOException or UnauthorizedAccessException or OperationCanceledException)
            {
                await RefuseWithCloseAsync(c, remoteId, service, $"failed ({ex.Message})").ConfigureAwait(false);
                return;
            }
            Audit(c, service, "ok");
            await AcceptAndRunAsync(c, remoteId, service, s => ForwardService.RelayAsync(s, target)).ConfigureAwait(false);
            return;
        }

        if (service.StartsWith("reverse:", StringComparison.Ordinal))
        {
            string cmd = service["reverse:".Length..];
            if (!caps.Reverse)
            {
                Audit(c, service, "refused (no reverse capability)");
                byte[] fail = [.. "FAIL"u8, .. Adb.Protocol.AdbSmartSocket.FormatLengthPrefixed($"adbd: permission denied: key {fp} lacks the 'reverse' capability")];
                await AcceptAndRunAsync(c, remoteId, service, s => s.WriteAsync(fail).AsTask()).ConfigureAwait(false);
                return;
            }
            byte[] reply = c.Reverses.Handle(cmd);
            Audit(c, service, reply.AsSpan().StartsWith("FAIL"u8) ? "failed (" + Encoding.UTF8.GetString(reply.AsSpan(8)) + ")" : "ok");
            await AcceptAndRunAsync(c, remoteId, service, s => s.WriteAsync(reply).AsTask()).ConfigureAwait(false);
            return;
        }

        if (service == "root:" || service == "unroot:")
        {
            bool toRoot = service == "root:";
            string text;
            bool restart = false;
            if (!caps.Root)
                text = $"adbd: permission denied: key {fp} lacks the 'root' capability\n";
            else if (!_daemon.Options.AllowRoot || !Identity.ProcessIsRoot)
                text = toRoot ? "adbd cannot run as root in production builds\n" : "adbd not running as root\n";
            else if (toRoot == _daemon.RootMode)
                text = toRoot ? "adbd is already running as root\n" : "adbd not running as root\n";
            else
            {
                text = toRoot ? "restarting adbd as root\n" : "restarting adbd as non root\n";
                restart = true;
            }
            Audit(c, service, restart ? "ok (restart)" : (caps.Root ? "ok (" + text.Trim() + ")" : "refused (no root capability)"));
            await ReplyTextAsync(c, remoteId, service, text).ConfigureAwait(false);
            if (restart)
            {
                _daemon.RootMode = toRoot;
                _daemon.Restart(toRoot ? "root: requested" : "unroot: requested");
            }
            return;
        }

        if (service.StartsWith("reboot:", StringComparison.Ordinal) || service.StartsWith("tcpip:", StringComparison.Ordinal))
        {
            if (!caps.Shell && !caps.Root)
            {
                Audit(c, service, "refused (needs shell or root capability)");
                await ReplyTextAsync(c, remoteId, service, $"adbd: permission denied: key {fp} may not restart adbd\n").ConfigureAwait(false);
                return;
            }
            if (service.StartsWith("tcpip:", StringComparison.Ordinal))
            {
                if (!int.TryParse(service[6..], out int port) || port is <= 0 or > 65535)
                {
                    Audit(c, service, "failed (bad port)");
                    await ReplyTextAsync(c, remoteId, service, $"invalid port {service[6..]}\n").ConfigureAwait(false);
                    return;
                }
                var old = _daemon.ListenOnNewPort(port, out var error);
                if (error is not null)
                {
                    Audit(c, service, $"failed ({error})");
                    await ReplyTextAsync(c, remoteId, service, $"cannot listen on port {port}: {error}\n").ConfigureAwait(false);
                    return;
                }
                Audit(c, service, "ok (restart)");
                await ReplyTextAsync(c, remoteId, service, $"restarting in TCP mode port: {port}\n").ConfigureAwait(false);
                _daemon.FinishMove(old, port);
                return;
            }
            Audit(c, service, "ok (restart)");
            await AcceptAndRunAsync(c, remoteId, service, _ => Task.CompletedTask).ConfigureAwait(false);
            _daemon.RootMode = false;
            _daemon.Restart("reboot: requested");
            return;
        }

        await RefuseWithCloseAsync(c, remoteId, service, "failed (unknown service)").ConfigureAwait(false);
    }
}
