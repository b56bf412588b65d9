mail-invitation-subject = Kutsu verkko-ohjaukseen: { $organization }
mail-invitation-body = { $organization } kutsuu sinut suojattuun verkko-ohjauksen työtilaan Ohjaus-palvelussa. Hyväksy kutsu avaamalla alla oleva linkki ja tunnistautumalla Suomi.fi-tunnistuksella (verkkopankkitunnukset, mobiilivarmenne tai henkilökortti). Linkki toimii { $expires } asti ja vain kerran.
mail-invitation-ignore = Jos et odottanut tätä kutsua, voit jättää viestin huomiotta. Tämä sähköposti ei sisällä henkilötietojasi.
mail-new-messages-subject = Sinulle on uusia viestejä Ohjaus-palvelussa
mail-new-messages-body = { $count ->
    [one] Sinulle on uusi viesti
   *[other] Sinulle on { $count } uutta viestiä
} verkko-ohjauksen työtilassa. Kirjaudu sisään lukeaksesi { $count ->
    [one] sen
   *[other] ne
}.
mail-new-messages-privacy = Yksityisyytesi suojaamiseksi viestejä ei koskaan lähetetä sähköpostilla.
mail-link = Avaa Ohjaus
mail-consent-requested-subject = Ohjauksessa pyydetään suostumustasi
mail-consent-requested-body = Ohjaajasi ehdottaa, että toinen ammattilainen liittyisi verkko-ohjauksesi työtilaan. Kukaan ei liity ilman suostumustasi. Kirjaudu sisään nähdäksesi kuka ja miksi, ja hyväksy tai hylkää pyyntö.
mail-consent-decided-subject = Suostumuspyyntöön on vastattu Ohjauksessa
mail-consent-decided-body = Asiakas on vastannut suostumuspyyntöön, muuttanut sitä tai perunut suostumuksensa työtilassa, jonka omistat. Kirjaudu sisään nähdäksesi päätöksen.
mail-consent-privacy = Yksityisyytesi vuoksi nimiä tai perusteluja ei koskaan lähetetä sähköpostilla.
mail-handed-over-subject = Verkko-ohjauksesi työtilalla on uusi ohjaaja
mail-handed-over-body = Verkko-ohjauksesi työtila on siirretty saman organisaation toiselle ohjaajalle, esimerkiksi siksi, että aiempi ohjaajasi on lopettanut tai on poissa. Uusi ohjaajasi voi lukea työtilan sisällön. Kirjaudu sisään nähdäksesi, kuka ohjaajasi nyt on ja ketkä ovat käyttäneet työtilaasi.
mail-handed-over-privacy = Yksityisyytesi vuoksi nimiä ei koskaan lähetetä sähköpostilla.
mail-closing-subject = Verkko-ohjauksesi työtila suljetaan pian
mail-closing-body = Verkko-ohjauksesi työtilaan ei ole kirjauduttu pitkään aikaan, joten se suljetaan { $days } päivän kuluttua. Jos haluat pitää sen avoinna, kirjaudu sisään ja avaa työtila ennen sitä. Ohjaaja voi avata suljetun työtilan uudelleen vielä jonkin aikaa, ja voit edelleen ladata sen sisällön.
mail-archiving-subject = Suljettu verkko-ohjauksen työtilasi arkistoidaan pian
mail-archiving-body = Suljettu verkko-ohjauksen työtilasi arkistoidaan { $days } päivän kuluttua. Sen jälkeen ohjaajat eivät enää näe sitä eivätkä voi avata sitä uudelleen; sinä näet sen ja voit ladata sen sisällön siihen asti, kun se poistetaan pysyvästi.
mail-retention-privacy = Yksityisyytesi vuoksi työtilan sisältöä ei lähetetä sähköpostilla.

## rounds (3X10D)
mail-round-asked-subject = Sinulle on kysely Ohjauksessa
mail-round-asked-body = Ohjaajasi pyytää sinua vastaamaan lyhyeen kyselyyn elämäntilanteestasi verkko-ohjauksen työtilassasi. Voit vastata silloin kun sinulle sopii, tallentaa vastauksesi ja jatkaa myöhemmin.
mail-round-asked-privacy = Yksityisyytesi vuoksi kyselyn sisältöä ei lähetetä sähköpostilla.
