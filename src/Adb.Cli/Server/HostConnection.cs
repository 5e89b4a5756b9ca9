using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Adb.Cli.Server;

/// <summary>
/// One smart-socket client of the server: zero or more transport switches (<c>host:tport:*</c>,
/// <c>host:transport*</c>) then one host service, or a device service relayed to adbd.
/// AOSP <c>adb.cpp</c> handle_host_request, <c>sockets.cpp</c> smart_socket_enqueue, <c>services.cpp</c>; reference §1.2.
/// </summary>
internal sealed class HostConnection(AdbServer server, Socket socket)
{
    private readonly NetworkStream _s = new(socket, ownsSocket: true);
    private DeviceTransport? _bound;

    /// <summary>Serves the connection until it is done, then closes the socket.</summary>
    public async Task RunAsync()
    {
        try
        {
            while (true)
            {
                string? req = await SmartSocket.ReadRequestAsync(_s);
                if (req == null) return;
                if (!await HandleAsync(req)) return;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            server.WriteLog($"client connection failed: {e}");
        }
        finally
        {
            try { _s.Dispose(); } catch { }
        }
    }

    /// <summary>Handles one request. Returns true when the connection stays open for another request.</summary>
    private async Task<bool> HandleAsync(string req)
    {
        if (_bound == null && !req.StartsWith("host", StringComparison.Ordinal))
        {
            // A device service with no transport selected goes to the only device (AOSP smart_socket_enqueue).
            _bound = server.Acquire(TransportSelector.Any, false, out string err, out _);
            if (_bound == null) { await SmartSocket.WriteFailAsync(_s, err); return false; }
        }
        if (_bound != null && !req.StartsWith("host", StringComparison.Ordinal))
        {
            await OpenDeviceServiceAsync(_bound, req);
            return false;
        }

        if (!TryParsePrefix(req, out TransportSelector sel, out string service, out string? parseError))
        {
            await SmartSocket.WriteFailAsync(_s, parseError ?? "unknown host service");
            return false;
        }

        // Transport switches (only with the plain host: prefix).
        if (req.StartsWith("host:", StringComparison.Ordinal) && TryParseTransportSwitch(service, out TransportSelector tsel, out bool tport))
        {
            var t = server.Acquire(tsel, false, out string err, out _);
            if (t == null) { await SmartSocket.WriteFailAsync(_s, err); return false; }
            _bound = t;
            if (tport)
            {
                byte[] reply = new byte[12];
                "OKAY"u8.CopyTo(reply);
                BinaryPrimitives.WriteInt64LittleEndian(reply.AsSpan(4), t.Id);
                await _s.WriteAsync(reply);
            }
            else await SmartSocket.WriteOkayAsync(_s);
            return true;
        }

        // After a transport switch, host requests apply to the bound transport (AOSP uses s->transport).
        if (_bound != null && req.StartsWith("host:", StringComparison.Ordinal)) sel = new(TransportType.Any, null, _bound.Id);
        return await HostServiceAsync(sel, service);
    }

    /// <summary>
    /// Splits <c>host:</c>, <c>host-serial:S:</c>, <c>host-transport-id:N:</c>, <c>host-usb:</c>, <c>host-local:</c>
    /// prefixes (AOSP parse_host_serial rules: IPv6 in brackets, usb:/product:/model:/device:/localfilesystem: take
    /// one more segment, tcp:/udp: are skipped, a numeric :port stays in the serial).
    /// </summary>
    internal static bool TryParsePrefix(string req, out TransportSelector sel, out string service, out string? error)
    {
        error = null;
        sel = TransportSelector.Any;
        service = "";
        if (req.StartsWith("host:", StringComparison.Ordinal)) { service = req[5..]; return true; }
        if (req.StartsWith("host-usb:", StringComparison.Ordinal)) { sel = new(TransportType.Usb, null, null); service = req[9..]; return true; }
        if (req.StartsWith("host-local:", StringComparison.Ordinal)) { sel = new(TransportType.Local, null, null); service = req[11..]; return true; }
        if (req.StartsWith("host-transport-id:", StringComparison.Ordinal))
        {
            string rest = req[18..];
            int colon = rest.IndexOf(':');
            if (colon < 0 || !long.TryParse(rest[..colon], out long id)) { error = "invalid transport id"; return false; }
            sel = new(TransportType.Any, null, id);
            service = rest[(colon + 1)..];
            return true;
        }
        if (req.StartsWith("host-serial:", StringComparison.Ordinal))
        {
            string rest = req[12..];
            int end = SerialEnd(rest);
            if (end < 0) { error = "unknown host service"; return false; }
            sel = new(TransportType.Any, rest[..end], null);
            service = rest[(end + 1)..];
            return true;
        }
        error = "unknown host service";
        return false;
    }

    /// <summary>Index of the ':' that ends the serial in "serial:command", or -1.</summary>
    internal static int SerialEnd(string s)
    {
        int pos = 0;
        if (s.StartsWith('['))
        {
            int close = s.IndexOf(']');
            if (close < 0) return -1;
            pos = close + 1;
        }
        else
        {
            foreach (string p in (string[])["usb:", "product:", "model:", "device:", "localfilesystem:"])
            {
                if (s.StartsWith(p, StringComparison.Ordinal)) { pos = p.Length; break; }
            }
            foreach (string p in (string[])["tcp:", "udp:"])
            {
                if (s.StartsWith(p, StringComparison.Ordinal)) { pos = p.Length; break; }
            }
        }
        int colon = s.IndexOf(':', pos);
        if (colon < 0) return -1;
        // A numeric port after the colon belongs to the serial when another colon follows.
        int next = s.IndexOf(':', colon + 1);
        if (next > colon + 1 && s.AsSpan(colon + 1, next - colon - 1).IndexOfAnyExceptInRange('0', '9') < 0) return next;
        return colon;
    }

    private static bool TryParseTransportSwitch(string service, out TransportSelector sel, out bool tport)
    {
        sel = TransportSelector.Any;
        tport = false;
        string rest;
        if (service.StartsWith("tport:", StringComparison.Ordinal)) { tport = true; rest = service[6..]; }
        else if (service.StartsWith("transport", StringComparison.Ordinal)) rest = service[9..];
        else return false;
        if (tport)
        {
            if (rest.StartsWith("serial:", StringComparison.Ordinal)) { sel = new(TransportType.Any, rest[7..], null); return true; }
            if (rest.StartsWith("transport-id:", StringComparison.Ordinal) && long.TryParse(rest[13..], out long tid)) { sel = new(TransportType.Any, null, tid); return true; }
            switch (rest)
            {
                case "usb": sel = new(TransportType.Usb, null, null); return true;
                case "local": sel = new(TransportType.Local, null, null); return true;
                case "any": return true;
            }
            return false;
        }
        if (rest.StartsWith(':')) { sel = new(TransportType.Any, rest[1..], null); return true; }
        if (rest.StartsWith("-id:", StringComparison.Ordinal) && long.TryParse(rest[4..], out long id)) { sel = new(TransportType.Any, null, id); return true; }
        switch (rest)
        {
            case "-usb": sel = new(TransportType.Usb, null, null); return true;
            case "-local": sel = new(TransportType.Local, null, null); return true;
            case "-any": return true;
        }
        return false;
    }

    private async Task OpenDeviceServiceAsync(DeviceTransport t, string service)
    {
        var stream = await t.OpenAsync(service);
        if (stream == null)
        {
            await SmartSocket.WriteFailAsync(_s, "closed");
            return;
        }
        await SmartSocket.WriteOkayAsync(_s);
        await stream.RelayAsync(_s, socket);
    }

    // ---- host services -------------------------------------------------------------------------------------

    private async Task<bool> HostServiceAsync(TransportSelector sel, string service)
    {
        switch (service)
        {
            case "version":
                await SmartSocket.WriteOkayAsync(_s, AdbServer.ServerVersion.ToString("x4"));
                return false;
            case "kill":
                await SmartSocket.WriteOkayAsync(_s);
                await _s.FlushAsync();
                server.WriteLog("adb server killed by remote request");
                server.Stop();
                return false;
            case "devices":
            case "devices-l":
                await SmartSocket.WriteOkayAsync(_s, server.DeviceList(service == "devices-l"));
                return false;
            case "track-devices":
            case "track-devices-l":
                await TrackDevicesAsync(service == "track-devices-l");
                return false;
            case "features":
                {
                    var t = server.Acquire(sel, false, out string err, out _);
                    if (t == null) await SmartSocket.WriteFailAsync(_s, err);
                    // Debian's server keeps features in a hash set; for the feature sets seen its order is the
                    // banner's reversed, which is what Debian's client then prints.
                    else await SmartSocket.WriteOkayAsync(_s, string.Join(',', t.Features.Reverse()));
                    return false;
                }
            case "host-features":
                await SmartSocket.WriteOkayAsync(_s, string.Join(',', AdbServer.HostFeatureList));
                return false;
            case "get-state":
            case "get-serialno":
            case "get-devpath":
                {
                    var t = server.Acquire(sel, false, out string err, out _);
                    if (t == null) { await SmartSocket.WriteFailAsync(_s, err); return false; }
                    string value = service switch
                    {
                        "get-state" => t.State.Name(),
                        "get-serialno" => t.Serial,
                        _ => "unknown",
                    };
                    await SmartSocket.WriteOkayAsync(_s, value);
                    return false;
                }
            case "list-forward":
                await SmartSocket.WriteOkayAsync(_s, server.ListForwards());
                return false;
            case "killforward-all":
                {
                    // AOSP: the selector only matters for the transport check; removes all forwards.
                    server.RemoveAllForwards();
                    await _s.WriteAsync("OKAYOKAY"u8.ToArray());
                    return false;
                }
            case "reconnect":
            case "reconnect-offline":
                await SmartSocket.WriteOkayAsync(_s, "done");
                return false;
        }
        if (service.StartsWith("connect:", StringComparison.Ordinal))
        {
            string msg = await server.ConnectAsync(service[8..]);
            await SmartSocket.WriteOkayAsync(_s, msg);
            return false;
        }
        if (service.StartsWith("disconnect:", StringComparison.Ordinal))
        {
            var (ok, msg) = await server.DisconnectAsync(service[11..]);
            if (ok) await SmartSocket.WriteOkayAsync(_s, msg); else await SmartSocket.WriteFailAsync(_s, msg);
            return false;
        }
        if (service.StartsWith("forward:", StringComparison.Ordinal) || service.StartsWith("killforward:", StringComparison.Ordinal))
        {
            await ForwardAsync(sel, service);
            return false;
        }
        if (service.StartsWith("wait-for-", StringComparison.Ordinal))
        {
            await WaitForAsync(sel, service[9..]);
            return false;
        }
        if (service.StartsWith("emulator:", StringComparison.Ordinal)) return false;
        await SmartSocket.WriteFailAsync(_s, "unknown host service");
        return false;
    }

    private async Task TrackDevicesAsync(bool longForm)
    {
        await SmartSocket.WriteOkayAsync(_s);
        // Any byte from the client (or EOF) ends the tracker.
        var clientGone = Task.Run(async () =>
        {
            byte[] one = new byte[1];
            try { _ = await _s.ReadAsync(one); } catch { }
        });
        while (true)
        {
            Task change = server.NextChange();
            await SmartSocket.WriteProtocolStringAsync(_s, server.DeviceList(longForm));
            if (await Task.WhenAny(change, clientGone) == clientGone) return;
        }
    }

    private async Task ForwardAsync(TransportSelector sel, string service)
    {
        var t = server.Acquire(sel, false, out string err, out _);
        if (service.StartsWith("killforward:", StringComparison.Ordinal))
        {
            if (t == null) { await SmartSocket.WriteFailAsync(_s, err); return; }
            string local = service[12..];
            if (!server.RemoveForward(local))
            {
                await SmartSocket.WriteFailAsync(_s, $"listener '{local}' not found");
                return;
            }
            await _s.WriteAsync("OKAYOKAY"u8.ToArray());
            return;
        }
        string spec = service[8..];
        bool norebind = false;
        if (spec.StartsWith("norebind:", StringComparison.Ordinal)) { norebind = true; spec = spec[9..]; }
        int semi = spec.IndexOf(';');
        if (semi <= 0 || semi == spec.Length - 1 || spec[semi + 1] == '*')
        {
            await SmartSocket.WriteFailAsync(_s, $"bad forward: {spec}");
            return;
        }
        if (t == null) { await SmartSocket.WriteFailAsync(_s, err); return; }
        string localSpec = spec[..semi], remoteSpec = spec[(semi + 1)..];
        var (ok, port, error) = server.InstallForward(t, localSpec, remoteSpec, norebind);
        if (!ok) { await SmartSocket.WriteFailAsync(_s, error!); return; }
        var reply = new MemoryStream();
        reply.Write("OKAYOKAY"u8);
        if (port != 0) reply.Write(SmartSocket.EncodeProtocolString(port.ToString()));
        await _s.WriteAsync(reply.ToArray());
    }

    private async Task WaitForAsync(TransportSelector sel, string spec)
    {
        // spec: <usb|local|any>-<device|recovery|rescue|sideload|bootloader|any|disconnect>
        int dash = spec.IndexOf('-');
        // Anything unparseable is an unknown host service, as in AOSP.
        if (dash < 0) { await SmartSocket.WriteFailAsync(_s, "unknown host service"); return; }
        string type = spec[..dash], state = spec[(dash + 1)..];
        if (type == "usb") sel = sel with { Type = TransportType.Usb };
        else if (type == "local") sel = sel with { Type = TransportType.Local };
        else if (type != "any") { await SmartSocket.WriteFailAsync(_s, "unknown host service"); return; }
        ConnectionState? want = state switch
        {
            "device" => ConnectionState.Device,
            "recovery" => ConnectionState.Recovery,
            "rescue" => ConnectionState.Rescue,
            "sideload" => ConnectionState.Sideload,
            "bootloader" => ConnectionState.Bootloader,
            "any" or "disconnect" => null,
            _ => (ConnectionState)(-1),
        };
        if (want == (ConnectionState)(-1)) { await SmartSocket.WriteFailAsync(_s, "unknown host service"); return; }
        await SmartSocket.WriteOkayAsync(_s);
        var clientGone = Task.Run(async () =>
        {
            byte[] one = new byte[1];
            try { _ = await _s.ReadAsync(one); } catch { }
        });
        while (true)
        {
            Task change = server.NextChange();
            // AOSP wait_for_state uses acquire_one_transport without accept_any_state: an offline transport
            // counts as gone for wait-for-disconnect (that is how "adb root" sees adbd restart).
            var t = server.Acquire(sel, false, out string err, out bool ambiguous);
            if (ambiguous) { await SmartSocket.WriteFailAsync(_s, err); return; }
            if (state == "disconnect")
            {
                if (t == null) break;
            }
            else if (t != null && (want == null || t.State == want)) break;
            if (await Task.WhenAny(change, clientGone) == clientGone) return;
        }
        await SmartSocket.WriteOkayAsync(_s);
    }
}
