# The rules of the ledger, as ipvsadm -R reads them: owner tags dropped, services before real
# servers (an edited service's line sits after its real servers' lines in the ledger).
/^-A / { sub(/ #owner=.*/, ""); print; next }
/^-a / { sub(/ #owner=.*/, ""); rs[++n] = $0 }
END { for (i = 1; i <= n; i++) print rs[i] }
